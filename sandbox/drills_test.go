package sandbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/app"
	"github.com/thinktank/catobot/fakes/slackfake"
	"github.com/thinktank/catobot/internal/redistest"
	"github.com/thinktank/catobot/sandbox"
)

// Drills for exactly-once: each ends with exactly one execution (counted at
// the fake SageMaker) and one result message in the thread, however often
// Slack, PagerDuty or the processes repeat themselves.

const (
	opUpdate  = "UpdateEndpointWeightsAndCapacities"
	endpoint  = "cato-shadow-self"
	resultFor = "cato-shadow-self/primary now has"
)

// newSandbox starts the fakes seeded with the runbook's default state.
func newSandbox(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(defaultState())
	require.NoError(t, err)
	t.Cleanup(sb.Close)
	return sb
}

// tbLog passes the bot's log to the test log when CATOBOT_TEST_LOG is set.
type tbLog struct{ tb testing.TB }

func (l tbLog) Write(p []byte) (int, error) {
	if os.Getenv("CATOBOT_TEST_LOG") != "" {
		l.tb.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// runBot runs the real bot in this process against sb, with the sandbox's
// options changed by mutate, and returns its webhook URL once it is
// connected to the fake Slack. It stops when the test ends, and its log is
// checked for the secrets it was given.
func runBot(t testing.TB, sb *sandbox.Sandbox, mutate func(*app.Options)) string {
	t.Helper()
	require.NoError(t, sb.Apply())
	env, err := app.ReadEnv(os.Getenv)
	require.NoError(t, err)
	opts := sb.Options(env)
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(logs, tbLog{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	addr := make(chan string, 1)
	opts.Started = func(a string) { addr <- a }
	if mutate != nil {
		mutate(&opts)
	}
	_, before := sb.Slack.Connections()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("bot did not stop within 20s")
		}
		out := logs.String()
		for name, v := range sb.Env() {
			if isSecret(name) {
				require.NotContains(t, out, v, "the log shows %s", name)
			}
		}
	})

	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/webhooks/pagerduty"
	case err := <-done:
		t.Fatalf("bot stopped before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("bot did not serve within 30s")
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	require.NoError(t, sb.Slack.WaitConnections(wctx, before+1))
	return url
}

// privateRedis starts a redis-server for this test alone, even when
// CATOBOT_TEST_REDIS_URL names a shared one: the ledger's keys have a fixed
// prefix, so two drills must not share a server. It needs a password, as
// ElastiCache with AUTH does, and the URL carries it.
func privateRedis(t *testing.T) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	pw := "drill-" + hex.EncodeToString(b[:])
	u, err := neturl.Parse(redistest.StartAuth(t, pw))
	require.NoError(t, err)
	u.User = neturl.UserPassword("", pw)
	return u.String()
}

// testCtx is a context for one test's waits.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitSnap waits until cond holds for the transcript, failing the test
// with the transcript when it does not within a generous time.
func waitSnap(t testing.TB, sb *sandbox.Sandbox, what string, cond func(slackfake.Snapshot) bool) slackfake.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	sn, err := sb.Slack.WaitFor(ctx, cond)
	if err != nil {
		var b strings.Builder
		_ = sb.Slack.Render(&b)
		t.Fatalf("never saw %s; transcript:\n%s", what, b.String())
	}
	return sn
}

// waitUntil polls cond until it holds, for conditions outside the
// transcript (calls counted at a fake).
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiet waits until the bot has stopped talking to Slack and SageMaker for
// a moment, so that counts taken after it include every late duplicate.
func quiet(t testing.TB, sb *sandbox.Sandbox) {
	t.Helper()
	activity := func() int {
		return len(sb.Slack.Calls()) + len(sb.Slack.Acks()) + len(sb.SageMaker.Calls()) + len(sb.PagerDuty.Calls())
	}
	last, since := activity(), time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for time.Since(since) < 700*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("the bot never went quiet")
		}
		time.Sleep(50 * time.Millisecond)
		if n := activity(); n != last {
			last, since = n, time.Now()
		}
	}
}

// countIn returns how many messages in msgs contain substr.
func countIn(msgs []slackfake.Message, substr string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Text, substr) || strings.Contains(m.Rendered, substr) {
			n++
		}
	}
	return n
}

// topLevel returns the top-level message with ts in sn.
func topLevel(sn slackfake.Snapshot, ts string) (slackfake.Message, bool) {
	for _, m := range sn.Messages {
		if m.TS == ts {
			return m, true
		}
	}
	return slackfake.Message{}, false
}

func buttonOf(t testing.TB, m slackfake.Message, label string) slackfake.Button {
	t.Helper()
	for _, b := range m.Buttons() {
		if b.Label == label {
			return b
		}
	}
	t.Fatalf("message %s has no %q button: %s", m.TS, label, m.Rendered)
	return slackfake.Button{}
}

// showPreview types /cato text and returns the preview the bot posts, with
// its Confirm button.
func showPreview(t testing.TB, sb *sandbox.Sandbox, user, text, want string) slackfake.Message {
	t.Helper()
	_, err := sb.Slack.SlashCommand(testCtx(t), slackfake.SlashArgs{Text: text, User: user})
	require.NoError(t, err)
	var found slackfake.Message
	waitSnap(t, sb, "a preview showing "+want, func(sn slackfake.Snapshot) bool {
		for i := len(sn.Messages) - 1; i >= 0; i-- {
			m := sn.Messages[i]
			if strings.Contains(m.Rendered, want) && hasButton(m, "Confirm") {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// clickEnvelope is the socket-mode envelope of a block_actions click, as
// Slack sends it, built by hand so that tests can repeat or alter it.
func clickEnvelope(user, channel, messageTS, actionID, value string) []byte {
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": user, "username": user, "name": user, "team_id": slackfake.DefaultTeamID},
		"api_app_id": slackfake.DefaultAppID,
		"token":      "LEGACY-VERIFICATION-TOKEN-IGNORED",
		"container": map[string]any{
			"type": "message", "message_ts": messageTS, "channel_id": channel, "is_ephemeral": false,
		},
		"trigger_id":   "7000000000009.6000000000001.0123456789abcdef0123456789abcdef",
		"team":         map[string]any{"id": slackfake.DefaultTeamID, "domain": slackfake.DefaultTeamDomain},
		"channel":      map[string]any{"id": channel, "name": slackfake.DefaultChannelName},
		"message":      map[string]any{"type": "message", "ts": messageTS, "text": ""},
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": "https://hooks.slack.com/actions/T0CATO0001/1/replaced-by-the-fake",
		"actions": []any{map[string]any{
			"action_id": actionID, "block_id": "forged", "value": value, "type": "button",
			"text":      map[string]any{"type": "plain_text", "text": "Confirm"},
			"action_ts": "1773454700.000100",
		}},
	}
	raw, _ := json.Marshal(payload)
	env, _ := json.Marshal(map[string]any{
		"type": "interactive", "payload": json.RawMessage(raw), "accepts_response_payload": false,
	})
	return env
}

// postWebhook delivers a signed webhook body and returns the HTTP status.
func postWebhook(t testing.TB, url string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-PagerDuty-Signature", sandbox.Sign(body, "sandbox-webhook-secret"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// seedTriggered puts the triggered incident and its SageMaker latency
// alert into the PagerDuty fake and returns the webhook body.
func seedTriggered(t *testing.T, sb *sandbox.Sandbox) []byte {
	t.Helper()
	dir := casesDir(t)
	body, err := os.ReadFile(filepath.Join(dir, "pagerduty/webhook_v3/incident.triggered.json"))
	require.NoError(t, err)
	alerts, err := os.ReadFile(filepath.Join(dir, "pagerduty/rest/get_incident_alerts_sagemaker_latency.json"))
	require.NoError(t, err)
	require.NoError(t, sb.PagerDuty.SeedAlerts(alerts))
	require.NoError(t, sb.PagerDuty.SeedIncidents(append(append([]byte(`{"incident":`), incidentData(t, body)...), '}')))
	return body
}

// requireOnce checks the end of every drill: one execution at SageMaker
// and one result message in the thread.
func requireOnce(t testing.TB, sb *sandbox.Sandbox, threadTS string) {
	t.Helper()
	quiet(t, sb)
	require.Equal(t, 1, sb.SageMaker.Count(opUpdate), "exactly one execution")
	require.Equal(t, 1, countIn(sb.Slack.Thread(threadTS), resultFor), "exactly one result message")
}

// 10 people-clicks of one Confirm button, all at once.
func TestDrillTenConcurrentClicks(t *testing.T) {
	sb := newSandbox(t)
	runBot(t, sb, nil)
	ctx := testCtx(t)
	p := showPreview(t, sb, sandbox.OnCallUser, "scale shadow 8", "5 → 8")
	confirm := buttonOf(t, p, "Confirm")

	env := clickEnvelope(sandbox.OnCallUser, p.Channel, p.TS, confirm.ActionID, confirm.Value)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := sb.Slack.SendRaw(ctx, env)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	waitSnap(t, sb, "the result and nine refusals", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(p.TS), resultFor+" 8 instances") == 1 &&
			countIn(sn.EphemeralsFor(sandbox.OnCallUser), "already") == 9
	})
	requireOnce(t, sb, p.TS)
	require.Equal(t, 9, countIn(sb.Slack.Ephemerals(sandbox.OnCallUser), "already"))
	require.Empty(t, sb.Check(sandbox.State{SageMaker: map[string]sandbox.EndpointState{endpoint: {Instances: i32(8)}}}))
}

// The same PagerDuty webhook delivered three times makes one card, whose
// step then runs once.
func TestDrillSameWebhookThreeTimes(t *testing.T) {
	sb := newSandbox(t)
	url := runBot(t, sb, nil)
	body := seedTriggered(t, sb)

	var mu sync.Mutex
	var statuses []int
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			s := postWebhook(t, url, body)
			mu.Lock()
			statuses = append(statuses, s)
			mu.Unlock()
		})
	}
	wg.Wait()
	accepted := 0
	for _, s := range statuses {
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, s)
		if s == http.StatusAccepted {
			accepted++
		}
	}
	require.Equal(t, 1, accepted, "one delivery is accepted, the others are known: %v", statuses)

	sn := waitSnap(t, sb, "the card with its step", func(sn slackfake.Snapshot) bool {
		return len(sn.Messages) == 1 && hasButton(sn.Messages[0], "Scale Shadow Self")
	})
	card := sn.Messages[0]
	_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: sandbox.OnCallUser, Label: "Scale Shadow Self", MessageTS: card.TS})
	require.NoError(t, err)
	waitSnap(t, sb, "the result in the card's thread", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(card.TS), resultFor) == 1
	})
	requireOnce(t, sb, card.TS)
	require.Len(t, sb.Slack.Messages(), 1, "one card, however often the webhook came")
}

// The socket drops right after Slack wrote the click, before the ack could
// come back: Slack sends the click again on the next connection, and the
// step still runs once.
func TestDrillDisconnectBeforeAck(t *testing.T) {
	sb := newSandbox(t)
	runBot(t, sb, nil)
	p := showPreview(t, sb, sandbox.OnCallUser, "scale shadow 8", "5 → 8")
	before := len(sb.Slack.Deliveries())

	sb.Slack.DropNextAfterSend()
	ack, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: sandbox.OnCallUser, Label: "Confirm", MessageTS: p.TS})
	require.NoError(t, err)

	d := sb.Slack.Deliveries()[before:]
	require.NotEmpty(t, d)
	require.Equal(t, ack.EnvelopeID, d[0].EnvelopeID)
	require.NotEqual(t, d[0].Conn, ack.Conn, "the first connection's ack must be lost")
	if len(d) > 1 {
		// Redelivered: the same envelope, marked as a retry, on the new
		// connection. (slack-go may instead carry its unsent ack over.)
		require.Equal(t, ack.EnvelopeID, d[1].EnvelopeID)
		require.Equal(t, 1, d[1].Attempt)
		require.Equal(t, slackfake.RetryReasonTimeout, d[1].Reason)
		require.NotEqual(t, d[0].Conn, d[1].Conn)
	}
	_, total := sb.Slack.Connections()
	require.GreaterOrEqual(t, total, 2, "the bot reconnected")

	waitSnap(t, sb, "the result in the preview's thread", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(p.TS), resultFor+" 8 instances") == 1
	})
	requireOnce(t, sb, p.TS)
	require.Empty(t, sb.Slack.Unacked())
}

// Two bot processes share one Redis ledger and one Slack app; Slack hands
// envelopes to their connections in turn. The same click reaching both
// runs once.
func TestDrillTwoProcessesSameClick(t *testing.T) {
	redisURL := privateRedis(t)
	sb := newSandbox(t)
	startChild(t, sb, childOptions{LedgerURL: redisURL})
	startChild(t, sb, childOptions{LedgerURL: redisURL})
	waitUntil(t, "two open connections", func() bool { open, _ := sb.Slack.Connections(); return open == 2 })

	p := showPreview(t, sb, sandbox.OnCallUser, "scale shadow 8", "5 → 8")
	confirm := buttonOf(t, p, "Confirm")
	env := clickEnvelope(sandbox.OnCallUser, p.Channel, p.TS, confirm.ActionID, confirm.Value)
	acks := make([]slackfake.Ack, 2)
	var wg sync.WaitGroup
	for i := range acks {
		wg.Go(func() {
			a, err := sb.Slack.SendRaw(testCtx(t), env)
			require.NoError(t, err)
			acks[i] = a
		})
	}
	wg.Wait()
	require.NotEqual(t, acks[0].Conn, acks[1].Conn, "each process got the click")

	waitSnap(t, sb, "the result and one refusal", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(p.TS), resultFor+" 8 instances") == 1 &&
			countIn(sn.EphemeralsFor(sandbox.OnCallUser), "already") == 1
	})
	requireOnce(t, sb, p.TS)
}

// Two bot processes share one Redis ledger; PagerDuty's webhook reaches
// both listeners. One card is posted, and its step, clicked through both,
// runs once.
func TestDrillTwoProcessesSameWebhook(t *testing.T) {
	redisURL := privateRedis(t)
	sb := newSandbox(t)
	a := startChild(t, sb, childOptions{LedgerURL: redisURL})
	b := startChild(t, sb, childOptions{LedgerURL: redisURL})
	waitUntil(t, "two open connections", func() bool { open, _ := sb.Slack.Connections(); return open == 2 })
	body := seedTriggered(t, sb)

	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, url := range []string{a.WebhookURL, b.WebhookURL} {
		wg.Go(func() { statuses[i] = postWebhook(t, url, body) })
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusAccepted, http.StatusOK}, statuses, "one listener accepts, the other knows the event")

	sn := waitSnap(t, sb, "the card with its step", func(sn slackfake.Snapshot) bool {
		return len(sn.Messages) == 1 && hasButton(sn.Messages[0], "Scale Shadow Self")
	})
	card := sn.Messages[0]
	step := buttonOf(t, card, "Scale Shadow Self")
	env := clickEnvelope(sandbox.OnCallUser, card.Channel, card.TS, step.ActionID, step.Value)
	for range 2 {
		wg.Go(func() {
			_, err := sb.Slack.SendRaw(testCtx(t), env)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	waitSnap(t, sb, "the result in the card's thread", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(card.TS), resultFor) == 1
	})
	requireOnce(t, sb, card.TS)
	require.Len(t, sb.Slack.Messages(), 1, "one card for two listeners")
}

// kill -9 while SageMaker is still updating: a new process on the same
// ledger follows the update to its end and reports in the same thread.
func TestDrillKillDuringLongStep(t *testing.T) {
	redisURL := privateRedis(t)
	sb := newSandbox(t)
	sb.SageMaker.SetSteps(0) // the update holds until Finish
	opts := childOptions{LedgerURL: redisURL, Heartbeat: 500 * time.Millisecond, LeaseTTL: 2 * time.Second}
	first := startChild(t, sb, opts)

	p := showPreview(t, sb, sandbox.OnCallUser, "scale shadow 8", "5 → 8")
	_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: sandbox.OnCallUser, Label: "Confirm", MessageTS: p.TS})
	require.NoError(t, err)
	waitUntil(t, "the update call", func() bool { return sb.SageMaker.Count(opUpdate) == 1 })
	// The progress message was recorded before SageMaker was called.
	first.Kill(t)

	startChild(t, sb, opts)
	waitSnap(t, sb, "the new process following the step", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(p.TS), "following it to its end") == 1
	})
	sb.SageMaker.Finish(endpoint)
	waitSnap(t, sb, "the result in the same thread", func(sn slackfake.Snapshot) bool {
		return countIn(sn.Thread(p.TS), resultFor+" 8 instances") == 1
	})
	requireOnce(t, sb, p.TS)
	require.Empty(t, sb.Check(sandbox.State{SageMaker: map[string]sandbox.EndpointState{endpoint: {Instances: i32(8), Status: "InService"}}}))
}

// requireHistory asks `/cato history` until a line of it holds every one of
// parts. The refusal is told before it is recorded, so the first answer may
// come before the record.
func requireHistory(t *testing.T, sb *sandbox.Sandbox, parts ...string) {
	t.Helper()
	has := func(text string) bool {
		for _, line := range strings.Split(text, "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		return false
	}
	for range 20 {
		seen := len(sb.Slack.Ephemerals(sandbox.OnCallUser))
		_, err := sb.Slack.SlashCommand(testCtx(t), slackfake.SlashArgs{Text: "history", User: sandbox.OnCallUser})
		require.NoError(t, err)
		// The ack's "Working on" note, then the history itself.
		sn := waitSnap(t, sb, "the answer to /cato history", func(sn slackfake.Snapshot) bool {
			return len(sn.EphemeralsFor(sandbox.OnCallUser)) >= seen+2
		})
		for _, m := range sn.EphemeralsFor(sandbox.OnCallUser)[seen:] {
			if has(m.Text) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	var b strings.Builder
	_ = sb.Slack.Render(&b)
	t.Fatalf("/cato history never showed a line with %q; transcript:\n%s", parts, b.String())
}

// Unauthorised clicks, expired buttons, drifted state and altered payloads
// are each refused with their message; nothing changes, and the refusal is
// in the audit trail that `/cato history` shows.
func TestDrillRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*app.Options)
		// act clicks, given the preview, and returns where the refusal
		// shows and its text.
		act       func(t *testing.T, sb *sandbox.Sandbox, p slackfake.Message) (slackfake.Where, string)
		audit     string
		instances int32
	}{
		{
			name: "unauthorised click",
			act: func(t *testing.T, sb *sandbox.Sandbox, p slackfake.Message) (slackfake.Where, string) {
				_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: "U0NOMAIL01", Label: "Confirm", MessageTS: p.TS})
				require.NoError(t, err)
				return slackfake.WhereEphemeral, "you are not on the list of people allowed to change systems"
			},
			audit:     "not allowed",
			instances: 5,
		},
		{
			name: "unauthorised cancel",
			act: func(t *testing.T, sb *sandbox.Sandbox, p slackfake.Message) (slackfake.Where, string) {
				_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: "U0NOMAIL01", Label: "Cancel", MessageTS: p.TS})
				require.NoError(t, err)
				return slackfake.WhereEphemeral, "you are not on the list of people allowed to change systems"
			},
			audit:     "not allowed",
			instances: 5,
		},
		{
			name:   "expired button",
			mutate: func(o *app.Options) { o.Config.Access.ButtonTTL = time.Nanosecond },
			act: func(t *testing.T, sb *sandbox.Sandbox, p slackfake.Message) (slackfake.Where, string) {
				_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: sandbox.OnCallUser, Label: "Confirm", MessageTS: p.TS})
				require.NoError(t, err)
				return slackfake.WhereEphemeral, "That button expired at"
			},
			audit:     "expired",
			instances: 5,
		},
		{
			name: "drifted state",
			act: func(t *testing.T, sb *sandbox.Sandbox, p slackfake.Message) (slackfake.Where, string) {
				sb.SageMaker.SetEndpoint(endpoint, "primary", 6) // someone else scaled it
				_, err := sb.Slack.Click(testCtx(t), slackfake.ClickArgs{User: sandbox.OnCallUser, Label: "Confirm", MessageTS: p.TS})
				require.NoError(t, err)
				return slackfake.WhereThread, "Not run: instances is now 6, not 5 as in the preview"
			},
			audit:     "state changed since the preview",
			instances: 6,
		},
		{
			name: "forged value",
			act: func(t *testing.T, sb *sandbox.Sandbox, p slackfake.Message) (slackfake.Where, string) {
				env := clickEnvelope(sandbox.OnCallUser, p.Channel, p.TS, "step_run", "0123456789abcdef01234567")
				_, err := sb.Slack.SendRaw(testCtx(t), env)
				require.NoError(t, err)
				return slackfake.WhereEphemeral, "I have no record of that step, so nothing was done"
			},
			audit:     "unknown id",
			instances: 5,
		},
		{
			name: "value of another message",
			act: func(t *testing.T, sb *sandbox.Sandbox, p slackfake.Message) (slackfake.Where, string) {
				other := showPreview(t, sb, sandbox.OnCallUser, "scale shadow 7", "5 → 7")
				value := buttonOf(t, p, "Confirm").Value
				env := clickEnvelope(sandbox.OnCallUser, other.Channel, other.TS, "step_run", value)
				_, err := sb.Slack.SendRaw(testCtx(t), env)
				require.NoError(t, err)
				return slackfake.WhereEphemeral, "That button does not belong to this message, so nothing was done"
			},
			audit:     "altered payload",
			instances: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t)
			runBot(t, sb, tt.mutate)
			p := showPreview(t, sb, sandbox.OnCallUser, "scale shadow 8", "5 → 8")

			where, text := tt.act(t, sb, p)
			waitSnap(t, sb, "the refusal "+text, func(sn slackfake.Snapshot) bool {
				_, ok := sn.Find(where, text)
				return ok
			})
			requireHistory(t, sb, "· refuse ·", tt.audit)

			quiet(t, sb)
			require.Zero(t, sb.SageMaker.Count(opUpdate), "nothing was changed")
			require.Empty(t, sb.Kube.Mutations(), "nothing was changed")
			require.Empty(t, sb.Check(sandbox.State{SageMaker: map[string]sandbox.EndpointState{endpoint: {Instances: i32(tt.instances)}}}))
			for _, m := range sb.Slack.Snapshot().All(slackfake.WhereThread) {
				require.NotContains(t, m.Text, "started", "no step was started")
			}
			if m, _ := topLevel(sb.Slack.Snapshot(), p.TS); tt.instances == 5 {
				require.True(t, hasButton(m, "Confirm"), "the preview is untouched: %s", m.Rendered)
			}
		})
	}
}

// A card's step is clicked, and while that click is still checking who may
// act (access is by user group, and Slack's answer is held back), someone
// dismisses the suggestion. The step must not run: a dismissed step never
// runs, and one that runs cannot be dismissed.
func TestDrillStepRacesDismiss(t *testing.T) {
	const group = "S0ONCALL01"
	sb := newSandbox(t)
	sb.Slack.SetUserGroup(group, sandbox.OnCallUser, sandbox.SecondUser)
	slowSlack, held, release := holdPath(t, sb.Slack.URL(), "/api/usergroups.users.list")
	url := runBot(t, sb, func(o *app.Options) {
		o.Config.Access.Users = nil
		o.Config.Access.Groups = []string{group}
		o.Env.SlackAPIURL = slowSlack + "/api/"
	})
	body := seedTriggered(t, sb)
	require.Equal(t, http.StatusAccepted, postWebhook(t, url, body))
	sn := waitSnap(t, sb, "the card with its step", func(sn slackfake.Snapshot) bool {
		return len(sn.Messages) == 1 && hasButton(sn.Messages[0], "Dismiss")
	})
	card := sn.Messages[0]
	step, dismiss := buttonOf(t, card, "Scale Shadow Self"), buttonOf(t, card, "Dismiss")

	ctx := testCtx(t)
	_, err := sb.Slack.SendRaw(ctx, clickEnvelope(sandbox.OnCallUser, card.Channel, card.TS, step.ActionID, step.Value))
	require.NoError(t, err)
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the step's click never asked Slack for the group's members")
	}
	_, err = sb.Slack.SendRaw(ctx, clickEnvelope(sandbox.SecondUser, card.Channel, card.TS, dismiss.ActionID, dismiss.Value))
	require.NoError(t, err)
	waitSnap(t, sb, "the card dismissed", func(sn slackfake.Snapshot) bool {
		m, ok := topLevel(sn, card.TS)
		return ok && strings.Contains(m.Rendered, "Dismissed by")
	})
	release()

	waitSnap(t, sb, "the step's clicker told, or the step run", func(sn slackfake.Snapshot) bool {
		return countIn(sn.EphemeralsFor(sandbox.OnCallUser), "cancelled") > 0 || countIn(sn.Thread(card.TS), resultFor) > 0
	})
	quiet(t, sb)
	require.Zero(t, sb.SageMaker.Count(opUpdate), "a dismissed step must not run")
	require.Zero(t, countIn(sb.Slack.Thread(card.TS), resultFor))
	m, _ := topLevel(sb.Slack.Snapshot(), card.TS)
	require.Contains(t, m.Rendered, "Dismissed by")
}

// holdPath answers like target, except that the first request to path
// waits until release is called; held receives when it arrives.
func holdPath(t testing.TB, target, path string) (url string, held <-chan struct{}, release func()) {
	t.Helper()
	u, err := neturl.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	first, gate := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	var hold atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path && hold.CompareAndSwap(false, true) {
			first <- struct{}{}
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(func() {
		release()
		srv.Close()
	})
	return srv.URL, first, release
}
