package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/fakes/sagemakerfake"
	"github.com/thinktank/catobot/fakes/slackfake"
	"github.com/thinktank/catobot/telemetry"
)

// scrape GETs /metrics from h over HTTP and parses the text format.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// series returns each series of a family as "label=value,…" → value (the
// sample count for histograms).
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "metric %s missing", name)
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		v := m.GetCounter().GetValue()
		if f.GetType() == dto.MetricType_HISTOGRAM {
			v = float64(m.GetHistogram().GetSampleCount())
		}
		out[strings.Join(ls, ",")] = v
	}
	return out
}

type nopSink struct{ got []alerts.Event }

func (s *nopSink) HandleEvent(_ context.Context, e alerts.Event) { s.got = append(s.got, e) }

func TestMetricsOverHTTP(t *testing.T) {
	m := telemetry.New()
	m.EnvelopeReceived("slash_commands")
	m.Acked("slash_commands")
	m.AckedAfter("interactive", 30*time.Millisecond)
	m.StepDone("shadow", "succeeded", 7*time.Minute)
	m.StepDone("ray", "failed", 2*time.Second)
	m.AWSError("ElastiCache", "ModifyReplicationGroup", "InvalidReplicationGroupState")
	m.PagerDutyError("events", "400")

	next := &nopSink{}
	sink := m.Sink(next)
	ctx := context.Background()
	sink.HandleEvent(ctx, alerts.Event{Type: alerts.IncidentTriggered,
		Match: &alerts.Match{Rule: alerts.Rule{Name: "shadow-gpu-high"}}})
	sink.HandleEvent(ctx, alerts.Event{Type: alerts.IncidentTriggered})
	sink.HandleEvent(ctx, alerts.Event{Type: "incident.resolved"})
	require.Len(t, next.got, 3, "the sink passes every event on")

	fams := scrape(t, m.Handler())
	tests := []struct {
		name string
		want map[string]float64
	}{
		{telemetry.EnvelopesReceived, map[string]float64{"type=slash_commands": 1}},
		{telemetry.EnvelopesAcked, map[string]float64{"type=slash_commands": 1, "type=interactive": 1}},
		{telemetry.AckLatency, map[string]float64{"type=interactive": 1}},
		{telemetry.AlertsReceived, map[string]float64{"type=incident.triggered": 2, "type=incident.resolved": 1}},
		{telemetry.AlertsMatched, map[string]float64{"rule=shadow-gpu-high": 1, "rule=none": 1}},
		{telemetry.Steps, map[string]float64{"component=shadow,result=succeeded": 1, "component=ray,result=failed": 1}},
		{telemetry.StepDuration, map[string]float64{"component=shadow": 1, "component=ray": 1}},
		{telemetry.AWSErrors, map[string]float64{
			"code=InvalidReplicationGroupState,operation=ModifyReplicationGroup,service=ElastiCache": 1}},
		{telemetry.PagerDutyErrors, map[string]float64{"api=events,status=400": 1}},
		{telemetry.SocketReconnects, map[string]float64{"": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(series(t, fams, tt.name), tt.want); d != "" {
				t.Errorf("series (-got +want):\n%s", d)
			}
		})
	}
	require.Contains(t, fams, "go_goroutines", "runtime collector")
	_, ok := fams[telemetry.SlackErrors]
	require.False(t, ok, "a counter vector with no series is not exposed")
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *telemetry.Metrics
	m.Acked("x")
	m.StepDone("shadow", "succeeded", time.Second)
	m.SocketOpened()
	next := &nopSink{}
	require.Same(t, next, m.Sink(next).(*nopSink))
	require.NotNil(t, m.SlackHTTPClient(nil))
}

func TestSlackHTTPClientCountsErrorsAndReconnects(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	defer fake.Close()
	m := telemetry.New()
	api := slack.New(fake.BotToken(), slack.OptionAppLevelToken(fake.AppToken()),
		slack.OptionAPIURL(fake.APIURL()), slack.OptionHTTPClient(m.SlackHTTPClient(nil)))
	ctx := context.Background()

	_, err := api.AuthTestContext(ctx)
	require.NoError(t, err)
	fake.FailNext("chat.postMessage", slackfake.Failure{Error: "channel_not_found"})
	_, _, err = api.PostMessageContext(ctx, "C0CATOONC1", slack.MsgOptionText("hi", false))
	require.Error(t, err)
	fake.FailNext("chat.update", slackfake.Failure{Status: http.StatusTooManyRequests, Error: "ratelimited",
		RetryAfter: 1})
	_, _, _, err = api.UpdateMessageContext(ctx, "C0CATOONC1", "1.2", slack.MsgOptionText("hi", false))
	require.Error(t, err)
	for range 3 {
		_, _, err = api.StartSocketModeContext(ctx)
		require.NoError(t, err)
	}

	fams := scrape(t, m.Handler())
	if d := cmp.Diff(series(t, fams, telemetry.SlackErrors), map[string]float64{
		"error=channel_not_found,method=chat.postMessage": 1,
		"error=http_429,method=chat.update":               1,
	}); d != "" {
		t.Errorf("slack errors (-got +want):\n%s", d)
	}
	require.Equal(t, map[string]float64{"": 2}, series(t, fams, telemetry.SocketReconnects))
}

func TestPagerDutyHTTPClientCountsErrors(t *testing.T) {
	fake := pdfake.New("right-token")
	defer fake.Close()
	m := telemetry.New()
	c := m.PagerDutyHTTPClient(&http.Client{Timeout: 5 * time.Second})

	req, err := http.NewRequest(http.MethodGet, fake.URL()+"/incidents", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Token token=wrong-token")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	fams := scrape(t, m.Handler())
	require.Equal(t, map[string]float64{"api=rest,status=401": 1}, series(t, fams, telemetry.PagerDutyErrors))
}

func TestAWSAPIOptionCountsErrorsAfterRetries(t *testing.T) {
	fake := sagemakerfake.New()
	defer fake.Close()
	fake.SetEndpoint("cato-shadow-self", "primary", 5)
	fake.Fail(sagemakerfake.OpDescribeEndpoint, sagemakerfake.Fault{Code: "AccessDeniedException",
		Message: "not allowed"})
	m := telemetry.New()
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: aws.CredentialsProviderFunc(staticCreds),
		APIOptions:  []func(*middleware.Stack) error{m.AWSAPIOption},
	}
	client := sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(fake.URL()) })
	ctx := context.Background()
	in := &sm.DescribeEndpointInput{EndpointName: aws.String("cato-shadow-self")}
	_, err := client.DescribeEndpoint(ctx, in)
	require.Error(t, err)
	_, err = client.DescribeEndpoint(ctx, in)
	require.NoError(t, err, "only the first call fails")

	fams := scrape(t, m.Handler())
	require.Equal(t, map[string]float64{
		"code=AccessDeniedException,operation=DescribeEndpoint,service=SageMaker": 1,
	}, series(t, fams, telemetry.AWSErrors))
}

func staticCreds(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIATEST0000000000", SecretAccessKey: "test-secret"}, nil
}
