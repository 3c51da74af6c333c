package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/app"
	"github.com/thinktank/catobot/fakes/slackfake"
	"github.com/thinktank/catobot/sandbox"
)

// burst is how many slash commands each benchmark iteration sends at once.
const burst = 16

// slowAWS is how long each SageMaker call takes during the burst.
const slowAWS = 200 * time.Millisecond

// slowProxy answers like target, each request delayed by d.
func slowProxy(tb testing.TB, target string, d time.Duration) string {
	tb.Helper()
	u, err := url.Parse(target)
	require.NoError(tb, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// sendBurst sends n slash commands at once and returns their acks'
// latencies: from the envelope's write to its ack.
func sendBurst(b *testing.B, fake *slackfake.Server, n int, text string) []time.Duration {
	ctx := context.Background()
	out := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ack, err := fake.SlashCommand(ctx, slackfake.SlashArgs{Text: text, User: sandbox.OnCallUser})
			if err != nil {
				b.Error(err)
				return
			}
			out[i] = ack.Latency()
		})
	}
	wg.Wait()
	return out
}

// reportLatency reports the median and 99th percentile of the acks.
func reportLatency(b *testing.B, all []time.Duration) {
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	at := func(q float64) time.Duration { return all[min(len(all)-1, int(q*float64(len(all))))] }
	b.ReportMetric(float64(at(0.50)), "ns/ack-p50")
	b.ReportMetric(float64(at(0.99)), "ns/ack-p99")
	b.ReportMetric(float64(all[len(all)-1]), "ns/ack-max")
}

// BenchmarkAckLatencyDuringBurst measures how long the real bot takes to
// ack each envelope while a burst of /cato status commands keeps it busy
// with SageMaker calls that take slowAWS each. Every iteration is one
// burst of 16 commands sent at once.
func BenchmarkAckLatencyDuringBurst(b *testing.B) {
	sb := newSandbox(b)
	slow := slowProxy(b, sb.SageMaker.URL(), slowAWS)
	runBot(b, sb, func(o *app.Options) {
		// Read by the AWS SDK when the bot builds its clients.
		b.Setenv("AWS_ENDPOINT_URL_SAGEMAKER", slow)
	})

	var all []time.Duration
	for b.Loop() {
		all = append(all, sendBurst(b, sb.Slack, burst, "status shadow")...)
	}
	b.StopTimer()
	reportLatency(b, all)
	waitUntil(b, "the bursts' SageMaker calls", func() bool {
		return sb.SageMaker.Count("DescribeEndpoint") >= len(all)
	})
}

// BenchmarkAckRoundTripRaw is the baseline: the same fake socket and the
// same bursts, answered by a bare slack-go socketmode client that acks
// each envelope at once and does nothing else.
func BenchmarkAckRoundTripRaw(b *testing.B) {
	fake := slackfake.New(slackfake.Options{})
	b.Cleanup(fake.Close)
	api := slack.New(fake.BotToken(), slack.OptionAppLevelToken(fake.AppToken()), slack.OptionAPIURL(fake.APIURL()))
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sm.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				if evt.Request != nil && evt.Type == socketmode.EventTypeSlashCommand {
					_ = sm.Ack(*evt.Request)
				}
			}
		}
	})
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	require.NoError(b, fake.WaitConnections(wctx, 1))

	var all []time.Duration
	for b.Loop() {
		all = append(all, sendBurst(b, fake, burst, "status shadow")...)
	}
	b.StopTimer()
	reportLatency(b, all)
}
