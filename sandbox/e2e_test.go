package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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
	"github.com/thinktank/catobot/sandbox"
)

// casesDir is where the shared test inputs live, beside the repository.
func casesDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CATOBOT_CASES"); d != "" {
		return d
	}
	d, err := filepath.Abs("../../shared/cases/payloads")
	require.NoError(t, err)
	if _, err := os.Stat(d); err != nil {
		t.Skip("shared cases not found beside the repository; set CATOBOT_CASES")
	}
	return d
}

// logBuffer collects the bot's log so tests can scan it for secrets.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var i32 = func(n int32) *int32 { return &n }

func defaultState() sandbox.State {
	return sandbox.State{
		SageMaker:   map[string]sandbox.EndpointState{"cato-shadow-self": {Variant: "primary", Instances: i32(5)}},
		Deployments: map[string]sandbox.DeploymentState{"cato/cato-orchestrator": {Replicas: i32(10), Ready: i32(10)}},
		HPAs:        map[string]sandbox.HPAState{"cato/cato-orchestrator-hpa": {Min: i32(10), Max: i32(50)}},
	}
}

// launch runs the real bot against a fresh sandbox and checks, when the
// test ends, that nothing it logged holds a secret it was given.
func launch(t *testing.T) (*sandbox.Running, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	logs := &logBuffer{}
	r, err := sandbox.Launch(ctx, defaultState(), slog.New(slog.NewJSONHandler(io.MultiWriter(logs, testLog{t}), &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	t.Cleanup(func() {
		r.Stop()
		out := logs.String()
		for name, v := range r.Sandbox.Env() {
			if isSecret(name) {
				require.NotContains(t, out, v, "the log shows %s", name)
			}
		}
	})
	return r, ctx
}

func isSecret(name string) bool {
	return strings.Contains(name, "TOKEN") || strings.Contains(name, "SECRET") || strings.Contains(name, "KEY")
}

func wait(t *testing.T, ctx context.Context, sb *sandbox.Sandbox, where slackfake.Where, text string) slackfake.Message {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, err := sb.Slack.WaitText(wctx, where, text)
	if err != nil {
		var b strings.Builder
		_ = sb.Slack.Render(&b)
		t.Fatalf("%s never showed %q; transcript:\n%s", where, text, b.String())
	}
	return m
}

func TestBuiltinScenario(t *testing.T) {
	var out bytes.Buffer
	err := sandbox.Main(context.Background(), sandbox.MainOptions{Out: &out, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "All steps passed.")
	require.Contains(t, out.String(), "SageMaker cato-shadow-self/primary: 15 instances (InService)")
}

func TestAlertCardClickResultInThread(t *testing.T) {
	r, ctx := launch(t)
	sc, err := sandbox.LoadScenario("")
	require.NoError(t, err)
	// Play up to the click: webhook, card, click.
	sc.Steps = sc.Steps[:4]
	require.NoError(t, (&sandbox.Player{Sandbox: r.Sandbox, WebhookURL: r.WebhookURL}).Play(ctx, sc))

	card := wait(t, ctx, r.Sandbox, slackfake.WhereChannel, "GPU utilization 87% > 80%")
	wait(t, ctx, r.Sandbox, slackfake.WhereThread, "cato-shadow-self/primary now has 15 instances")
	require.Empty(t, r.Sandbox.Check(sandbox.State{SageMaker: map[string]sandbox.EndpointState{"cato-shadow-self": {Instances: i32(15)}}}))

	// The card says who acted and offers the step no more.
	_, err = r.Sandbox.Slack.WaitFor(ctx, func(sn slackfake.Snapshot) bool {
		for _, m := range sn.Messages {
			if m.TS == card.TS {
				return strings.Contains(m.Rendered, "Done, requested by") && !hasButton(m, "Scale Shadow Self")
			}
		}
		return false
	})
	require.NoError(t, err)
	thread := r.Sandbox.Slack.Thread(card.TS)
	require.NotEmpty(t, thread)
	require.Contains(t, thread[0].Rendered, "started")

	// A second click on the same step does nothing more.
	require.Equal(t, 1, r.Sandbox.SageMaker.Count("UpdateEndpointWeightsAndCapacities"))
}

func hasButton(m slackfake.Message, label string) bool {
	for _, b := range m.Buttons() {
		if b.Label == label {
			return true
		}
	}
	return false
}

func TestSlashScalePreviewConfirm(t *testing.T) {
	r, ctx := launch(t)
	ack, err := r.Sandbox.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: "scale shadow 8", User: sandbox.OnCallUser})
	require.NoError(t, err)
	require.Contains(t, string(ack.Payload), "Working on")

	wait(t, ctx, r.Sandbox, slackfake.WhereChannel, "Shadow Self: 5 → 8 instances")
	require.Zero(t, r.Sandbox.SageMaker.Count("UpdateEndpointWeightsAndCapacities"), "a scale command must not act before Confirm")

	_, err = r.Sandbox.Slack.Click(ctx, slackfake.ClickArgs{User: sandbox.OnCallUser, Label: "Confirm"})
	require.NoError(t, err)
	wait(t, ctx, r.Sandbox, slackfake.WhereThread, "now has 8 instances")
	require.Empty(t, r.Sandbox.Check(sandbox.State{SageMaker: map[string]sandbox.EndpointState{"cato-shadow-self": {Instances: i32(8)}}}))
}

func TestBadInputGetsPrivateUsage(t *testing.T) {
	r, ctx := launch(t)
	tests := []struct {
		name, text, want string
	}{
		{"unknown component", "scale toaster 3", `unknown component "toaster"`},
		{"not a whole number", "scale shadow 2.5", "is not a whole number"},
		{"zero", "scale shadow 0", "at least"},
		{"negative", "scale shadow -3x", "is not a whole number"},
		{"above bound", "scale shadow 900", "above the highest allowed, 250"},
		{"unknown command", "frobnicate", `unknown command "frobnicate"`},
		{"missing value", "scale shadow", "what value?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack, err := r.Sandbox.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: tt.text, User: sandbox.OnCallUser})
			require.NoError(t, err)
			got := string(ack.Payload)
			if !strings.Contains(got, tt.want) {
				// Errors found after reading live state come as an ephemeral.
				wait(t, ctx, r.Sandbox, slackfake.WhereEphemeral, tt.want)
			}
		})
	}
	require.Zero(t, r.Sandbox.SageMaker.Count("UpdateEndpointWeightsAndCapacities"))
	for _, m := range r.Sandbox.Slack.Messages() {
		require.NotContains(t, m.Text, "Preview", "bad input must not post a preview")
	}
}

func TestForgedWebhookRefused(t *testing.T) {
	r, ctx := launch(t)
	body, err := os.ReadFile(filepath.Join(casesDir(t), "pagerduty/webhook_v3/incident.triggered.json"))
	require.NoError(t, err)
	for _, sig := range []string{"", "v1=00", sandbox.Sign(body, "not-the-secret")} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.WebhookURL, bytes.NewReader(body))
		if sig != "" {
			req.Header.Set("X-PagerDuty-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	time.Sleep(200 * time.Millisecond)
	require.Empty(t, r.Sandbox.Slack.Messages(), "a forged webhook must post nothing")
}

func TestAckBeforeAnyAWSCall(t *testing.T) {
	// The order is taken on the bot's side, when it has handed the ack to
	// the socket: no SageMaker call may have started by then.
	var mu sync.Mutex
	var seen []int
	var shared atomic.Pointer[sandbox.Sandbox]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := sandbox.LaunchWith(ctx, defaultState(), slog.New(slog.DiscardHandler), func(o *app.Options) {
		o.Hooks.Acked = func(typ string) {
			if typ != "slash_commands" {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, shared.Load().SageMaker.Count("DescribeEndpoint"))
		}
	})
	require.NoError(t, err)
	defer r.Stop()
	sb := r.Sandbox
	shared.Store(sb)
	before := sb.SageMaker.Count("DescribeEndpoint")
	_, err = sb.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: "status shadow", User: sandbox.OnCallUser})
	require.NoError(t, err)
	wait(t, ctx, sb, slackfake.WhereEphemeral, "cato-shadow-self")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{before}, seen, "the ack must go out before the bot calls SageMaker")
	require.Greater(t, sb.SageMaker.Count("DescribeEndpoint"), before)
}

func TestForgedButtonPayloadDoesNothing(t *testing.T) {
	r, ctx := launch(t)
	raw, err := os.ReadFile(filepath.Join(casesDir(t), "slack/socket/interactive_block_actions_scale_confirm.json"))
	require.NoError(t, err)
	_, err = r.Sandbox.Slack.SendRaw(ctx, raw)
	require.NoError(t, err)
	wait(t, ctx, r.Sandbox, slackfake.WhereEphemeral, "nothing was done")
	require.Empty(t, r.Sandbox.Kube.Mutations(), "the names and numbers in a button's value must never be acted on")
}

func TestMentionAnsweredOnceAndEditsNotRun(t *testing.T) {
	r, ctx := launch(t)
	dir := casesDir(t)
	for _, f := range []string{"events_api_message_user.json", "events_api_app_mention.json", "events_api_message_changed.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, "slack/socket", f))
		require.NoError(t, err)
		_, err = r.Sandbox.Slack.SendRaw(ctx, raw)
		require.NoError(t, err, f)
	}
	wait(t, ctx, r.Sandbox, slackfake.WhereEphemeral, "cato-shadow-self")
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, m := range r.Sandbox.Slack.Snapshot().Ephemerals {
		if strings.Contains(m.Text, "cato-shadow-self") {
			n++
		}
	}
	require.Equal(t, 1, n, "one mention delivered twice is answered once")
	require.Empty(t, r.Sandbox.Kube.Mutations(), "an edited command is not run")
	for _, m := range r.Sandbox.Slack.Messages() {
		require.NotContains(t, m.Text, "Preview", "an edited command is not run again")
	}
}

func TestPagerDutyAckAsClicker(t *testing.T) {
	r, ctx := launch(t)
	dir := casesDir(t)
	body, err := os.ReadFile(filepath.Join(dir, "pagerduty/webhook_v3/incident.triggered.json"))
	require.NoError(t, err)
	alerts, err := os.ReadFile(filepath.Join(dir, "pagerduty/rest/get_incident_alerts_sagemaker_latency.json"))
	require.NoError(t, err)
	require.NoError(t, r.Sandbox.PagerDuty.SeedAlerts(alerts))
	require.NoError(t, r.Sandbox.PagerDuty.SeedIncidents(append(append([]byte(`{"incident":`), incidentData(t, body)...), '}')))
	deliver(t, ctx, r.WebhookURL, body)
	card := wait(t, ctx, r.Sandbox, slackfake.WhereChannel, "Shadow Self latency p99")

	// The case's click, moved onto the card the bot posted.
	raw, err := os.ReadFile(filepath.Join(dir, "slack/socket/interactive_block_actions_pd_ack.json"))
	require.NoError(t, err)
	raw = bytes.ReplaceAll(raw, []byte("1773454626.001200"), []byte(card.TS))
	_, err = r.Sandbox.Slack.SendRaw(ctx, raw)
	require.NoError(t, err)
	wait(t, ctx, r.Sandbox, slackfake.WhereThread, "Acknowledged in PagerDuty by")
	inc, ok := r.Sandbox.PagerDuty.Incident("Q1SHAD0WS3LF7X")
	require.True(t, ok)
	require.Equal(t, "acknowledged", inc.Status)
	var from string
	for _, c := range r.Sandbox.PagerDuty.Calls() {
		if c.Method == http.MethodPut {
			from = c.From
		}
	}
	require.Equal(t, "alex.rivera@example.com", from, "PagerDuty must be told who clicked")
	wait(t, ctx, r.Sandbox, slackfake.WhereChannel, "acknowledged")
}

func incidentData(t *testing.T, body []byte) []byte {
	var doc struct {
		Event struct {
			Data json.RawMessage `json:"data"`
		} `json:"event"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	return doc.Event.Data
}

func deliver(t *testing.T, ctx context.Context, url string, body []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("X-PagerDuty-Signature", sandbox.Sign(body, "sandbox-webhook-secret"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 2, resp.StatusCode/100)
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	if os.Getenv("CATOBOT_TEST_LOG") != "" {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func TestStatusShowsEveryComponentAndKeyMetrics(t *testing.T) {
	r, ctx := launch(t)
	r.Sandbox.CloudWatch.SetValue("AWS/SageMaker", "ModelLatency", map[string]string{"EndpointName": "cato-shadow-self", "VariantName": "primary"}, 512000)
	_, err := r.Sandbox.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: "status", User: sandbox.SecondUser})
	require.NoError(t, err)
	m := wait(t, ctx, r.Sandbox, slackfake.WhereEphemeral, "Key metrics")
	for _, want := range []string{"Shadow Self", "cato-shadow-self", "Ray Serve", "cato-cache-production", "cato-semantic-memory-production", "OpenSearch",
		"Shadow Self latency p99: 512 ms — critical (> 500 ms)", "/cato scale shadow +10"} {
		require.Contains(t, m.Text+m.Rendered, want)
	}
}

func TestCostIsReadOnly(t *testing.T) {
	r, ctx := launch(t)
	_, err := r.Sandbox.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: "cost", User: sandbox.OnCallUser})
	require.NoError(t, err)
	m := wait(t, ctx, r.Sandbox, slackfake.WhereEphemeral, "never buys")
	require.Contains(t, m.Text, "Savings Plan")
	require.Contains(t, m.Text, "→", "right-sizing recommendations are listed")
}

func TestSandboxAimsOnlyAtLoopback(t *testing.T) {
	sb, err := sandbox.Start(defaultState())
	require.NoError(t, err)
	defer sb.Close()
	for name, v := range sb.Env() {
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			continue
		}
		u, err := url.Parse(v)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", u.Hostname(), "%s must point at loopback", name)
	}
	for _, key := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_ENDPOINT_URL_ELASTICACHE", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_ENDPOINT_URL_OPENSEARCHSERVERLESS", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_COMPUTE_OPTIMIZER", "SLACK_API_URL", "PAGERDUTY_API_URL", "KUBECONFIG"} {
		require.NotEmpty(t, sb.Env()[key], key)
	}
}

func TestTierPlanRunsAllInOrder(t *testing.T) {
	r, ctx := launch(t)
	_, err := r.Sandbox.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: "tier 1m", User: sandbox.OnCallUser})
	require.NoError(t, err)
	card := wait(t, ctx, r.Sandbox, slackfake.WhereChannel, "User-scale plan")
	for _, want := range []string{"Shadow Self: 5 → 50 instances", "Ray Serve: 10 → 50 replicas", "cache.r7g.2xlarge", "$500 → $2,000"} {
		require.Contains(t, card.Text+card.Rendered, want)
	}
	// The steps jump past the relative limits, so the requester may not run
	// them all alone.
	_, err = r.Sandbox.Slack.Click(ctx, slackfake.ClickArgs{User: sandbox.OnCallUser, Label: "Approve and run all"})
	require.NoError(t, err)
	wait(t, ctx, r.Sandbox, slackfake.WhereEphemeral, "someone other than you")
	require.Zero(t, r.Sandbox.SageMaker.Count("UpdateEndpointWeightsAndCapacities"))

	_, err = r.Sandbox.Slack.Click(ctx, slackfake.ClickArgs{User: sandbox.SecondUser, Label: "Approve and run all"})
	require.NoError(t, err)
	wait(t, ctx, r.Sandbox, slackfake.WhereThread, "now has 50 instances")
	wait(t, ctx, r.Sandbox, slackfake.WhereThread, "requested by @sam.oncall, approved by @alex.rivera")
	// The Terraform step cannot be prepared in the sandbox, which has no
	// Terraform directory: the plan stops there.
	wait(t, ctx, r.Sandbox, slackfake.WhereThread, "Plan stopped at step 4")
	require.Empty(t, r.Sandbox.Check(sandbox.State{
		SageMaker:   map[string]sandbox.EndpointState{"cato-shadow-self": {Instances: i32(50)}},
		Deployments: map[string]sandbox.DeploymentState{"cato/cato-orchestrator": {Replicas: i32(50)}},
	}))
}

func TestEveryComponentScenario(t *testing.T) {
	var out bytes.Buffer
	err := sandbox.Main(context.Background(), sandbox.MainOptions{Scenario: "testdata/every-component.yaml", Out: &out, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err, out.String())
}

func TestOutsiderIsToldWhy(t *testing.T) {
	r, ctx := launch(t)
	_, err := r.Sandbox.Slack.SlashCommand(ctx, slackfake.SlashArgs{Text: "scale shadow 6", User: "U0OUTSIDER"})
	require.NoError(t, err)
	wait(t, ctx, r.Sandbox, slackfake.WhereEphemeral, "you are not on the list of people allowed to change systems")
	require.Zero(t, r.Sandbox.SageMaker.Count("UpdateEndpointWeightsAndCapacities"))
}
