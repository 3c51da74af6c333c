package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/secret"
)

const incidentID = "Q1SHAD0WS3LF7X"

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type webhookEnv struct {
	pd      *pdServer
	sink    *recordingSink
	hook    *Webhook
	srv     *httptest.Server
	logs    *syncBuffer
	sigs    signatures
	secrets []secret.String
}

// newWebhookEnv starts a Webhook on loopback, reading incidents from a
// PagerDuty REST fake through a real go-pagerduty client.
func newWebhookEnv(t *testing.T, change func(*WebhookOptions)) *webhookEnv {
	t.Helper()
	env := &webhookEnv{pd: newPDServer(t), sink: newSink(), logs: &syncBuffer{}, sigs: loadSignatures(t)}
	env.pd.setAlerts(incidentID, readCase(t, "pagerduty/rest/get_incident_alerts_sagemaker_latency.json"))
	env.pd.setIncident(incidentID, readCase(t, "pagerduty/rest/get_incident.json"))
	env.secrets = []secret.String{secret.String(env.sigs.Current)}
	opts := WebhookOptions{
		Secrets: env.secrets,
		Seen:    ledgerSeen(),
		Reader:  newPDClient(env.pd),
		Sink:    env.sink,
		Rules:   DefaultRules(),
		Logger: slog.New(slog.NewTextHandler(env.logs,
			&slog.HandlerOptions{Level: slog.LevelDebug})),
		Retry: Retry{Attempts: 3, Delay: time.Millisecond},
	}
	if change != nil {
		change(&opts)
	}
	hook, err := NewWebhook(opts)
	require.NoError(t, err)
	env.hook = hook
	env.srv = httptest.NewServer(hook)
	t.Cleanup(func() {
		env.srv.Close()
		require.NoError(t, hook.Shutdown(context.Background()))
		env.noSecretsLogged(t)
	})
	return env
}

// post delivers body with the given headers and returns the status.
func (env *webhookEnv) post(t *testing.T, body []byte, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/pagerduty", bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// deliver posts a case file with its recorded headers, the signature
// replaced by sig when sig is not empty.
func (env *webhookEnv) deliver(t *testing.T, file, sig string) int {
	t.Helper()
	headers := map[string]string{}
	for k, v := range env.sigs.Files[file].Headers {
		headers[k] = v
	}
	if sig != "" {
		headers[SignatureHeader] = sig
	}
	return env.post(t, readCase(t, "pagerduty/webhook_v3/"+file), headers)
}

// noSecretsLogged checks that no secret and no signature reached the log.
func (env *webhookEnv) noSecretsLogged(t *testing.T) {
	t.Helper()
	logs := env.logs.String()
	for _, s := range []string{env.sigs.Current, env.sigs.Previous} {
		require.NotContains(t, logs, s)
	}
	for _, f := range env.sigs.Files {
		for _, v := range []string{f.Headers[SignatureHeader], f.OldOnly} {
			require.NotContains(t, logs, strings.TrimPrefix(v, "v1="))
		}
	}
}

func shadowIncident(status string, assignees ...string) Incident {
	return Incident{
		ID:          incidentID,
		Number:      4821,
		Title:       "Shadow Self latency p99 > 500ms (prod, primary)",
		Status:      status,
		Urgency:     "high",
		URL:         "https://example-oncall.pagerduty.com/incidents/Q1SHAD0WS3LF7X",
		Service:     "Shadow Self Inference (prod)",
		ServiceID:   "PSV5HS1",
		Assignees:   assignees,
		Policy:      "Cato ML Platform",
		PolicyID:    "PEP0CAT",
		CreatedAt:   "2026-03-14T02:17:05Z",
		Priority:    "P1",
		IncidentKey: "shadow-self-latency-p99-prod",
	}
}

func ruleNamed(t *testing.T, name string) Rule {
	t.Helper()
	for _, r := range DefaultRules() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no default rule %q", name)
	return Rule{}
}

func wantEvents(t *testing.T) map[string]Event {
	latency := latencyAlert
	latency.ID = "A0LAT0P99001"
	latency.Summary = `ALARM: "shadow-self-latency-p99" in US East (N. Virginia)`
	refreshed := Incident{
		ID:          incidentID,
		Number:      4821,
		Title:       `ALARM: "shadow-self-latency-p99" in US East (N. Virginia)`,
		Status:      "triggered",
		Urgency:     "high",
		URL:         "https://example-oncall.pagerduty.com/incidents/Q1SHAD0WS3LF7X",
		Service:     "Shadow Self Inference (prod)",
		ServiceID:   "PSV5HS1",
		Assignees:   []string{"Alex Rivera"},
		Policy:      "Cato ML Platform",
		PolicyID:    "PEP0CAT",
		CreatedAt:   "2026-03-14T02:17:05Z",
		Priority:    "P1",
		IncidentKey: "shadow-self-latency-p99",
	}
	ev := func(n, typ, occurred, agent string, in Incident) Event {
		return Event{ID: "01HX5K2B9R7T3M0CATO00000" + n, Type: typ, Incident: in, Agent: agent,
			OccurredAt: occurred, Source: "webhook"}
	}
	triggered := ev("01", IncidentTriggered, "2026-03-14T02:17:06.412Z", "",
		shadowIncident("triggered", "Alex Rivera"))
	triggered.Alerts = []Alert{latency}
	triggered.Match = &Match{
		Rule:    ruleNamed(t, "shadow-latency-critical"),
		Alert:   latency,
		Text:    "p99 latency 731.2 ms > 500 ms on cato-shadow-self/primary",
		Request: actions.Request{Verb: "scale", Component: "shadow", Args: []string{"+10"}},
	}
	annotated := ev("07", IncidentAnnotated, "2026-03-14T03:01:44.900Z", "Jun Nakamura", refreshed)
	annotated.Note = "cato: scaled cato-shadow-self/primary 2 -> 4 instances (requested by @jun)"
	return map[string]Event{
		"incident.triggered.json": triggered,
		"incident.acknowledged.json": ev("02", IncidentAcknowledged, "2026-03-14T02:19:40.008Z",
			"Alex Rivera", shadowIncident("acknowledged", "Alex Rivera")),
		"incident.escalated.json": ev("03", IncidentEscalated, "2026-03-14T02:47:06.120Z", "",
			shadowIncident("triggered", "Sam Okafor")),
		"incident.reassigned.json": ev("04", IncidentReassigned, "2026-03-14T02:52:11.730Z",
			"Sam Okafor", shadowIncident("triggered", "Jun Nakamura")),
		"incident.annotated.json": annotated,
		"incident.resolved.json": ev("08", IncidentResolved, "2026-03-14T03:30:15.318Z",
			"Jun Nakamura", shadowIncident("resolved")),
		"incident.unacknowledged.json": ev("10", IncidentUnacknowledged, "2026-03-14T02:49:40.000Z",
			"", shadowIncident("triggered", "Alex Rivera")),
	}
}

func TestWebhookEveryCase(t *testing.T) {
	want := wantEvents(t)
	sigs := loadSignatures(t)
	files := make([]string, 0, len(sigs.Files))
	for f := range sigs.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	require.Len(t, want, len(files), "every signed case has an expected event")

	headers := []struct {
		name     string
		sig      func(file string) string
		previous bool // configure the previous secret too
	}{
		{name: "current", sig: func(f string) string { return "" }},
		{name: "rotation", sig: func(f string) string { return sigs.Files[f].Rotation }},
		{name: "old only while both configured", previous: true,
			sig: func(f string) string { return sigs.Files[f].OldOnly }},
	}
	for _, file := range files {
		for _, h := range headers {
			t.Run(file+"/"+h.name, func(t *testing.T) {
				env := newWebhookEnv(t, func(o *WebhookOptions) {
					if h.previous {
						o.Secrets = []secret.String{secret.String(sigs.Previous), secret.String(sigs.Current)}
					}
				})
				require.Equal(t, http.StatusAccepted, env.deliver(t, file, h.sig(file)))
				got := env.sink.next(t)
				if d := cmp.Diff(got, want[file], ignoreDetails); d != "" {
					t.Errorf("event (-got +want):\n%s", d)
				}
			})
		}
	}
}

func TestWebhookRefusesBadSignatures(t *testing.T) {
	sigs := loadSignatures(t)
	file := "incident.triggered.json"
	body := readCase(t, "pagerduty/webhook_v3/"+file)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, body))
	good := sigs.Files[file].Headers[SignatureHeader]

	tests := []struct {
		name   string
		body   []byte
		header string
		set    bool
	}{
		{name: "missing header", body: body},
		{name: "empty header", body: body, header: "", set: true},
		{name: "wrong version only", body: body, header: strings.Replace(good, "v1=", "v0=", 1), set: true},
		{name: "tampered body", body: bytes.Replace(body, []byte(`"high"`), []byte(`"low"`), 1),
			header: good, set: true},
		{name: "reformatted body", body: compact.Bytes(), header: good, set: true},
		{name: "old secret after rotation", body: body, header: sigs.Files[file].OldOnly, set: true},
		{name: "garbage", body: body, header: "v1=zz,v1=,,=", set: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newWebhookEnv(t, nil)
			headers := map[string]string{"Content-Type": "application/json", WebhookIDHeader: "whk-1"}
			if tt.set {
				headers[SignatureHeader] = tt.header
			}
			require.Equal(t, http.StatusUnauthorized, env.post(t, tt.body, headers))
			require.NoError(t, env.hook.Shutdown(context.Background()))
			require.Empty(t, env.sink.all())
			require.Zero(t, env.pd.callCount("/"))
			require.Contains(t, env.logs.String(), "webhook refused")
		})
	}
}

func TestWebhookDuplicateDelivery(t *testing.T) {
	sigs := loadSignatures(t)
	file := "incident.acknowledged.json"
	body := readCase(t, "pagerduty/webhook_v3/"+file)
	sig := sigs.Files[file].Headers[SignatureHeader]

	t.Run("three times in a row", func(t *testing.T) {
		env := newWebhookEnv(t, nil)
		require.Equal(t, http.StatusAccepted, env.deliver(t, file, ""))
		require.Equal(t, http.StatusOK, env.deliver(t, file, ""))
		require.Equal(t, http.StatusOK, env.deliver(t, file, ""))
		require.NoError(t, env.hook.Shutdown(context.Background()))
		require.Len(t, env.sink.all(), 1)
	})
	t.Run("three at once", func(t *testing.T) {
		env := newWebhookEnv(t, nil)
		codes := make(chan int, 3)
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { codes <- env.deliver(t, file, "") })
		}
		wg.Wait()
		close(codes)
		var got []int
		for c := range codes {
			got = append(got, c)
		}
		sort.Ints(got)
		require.Equal(t, []int{http.StatusOK, http.StatusOK, http.StatusAccepted}, got)
		require.NoError(t, env.hook.Shutdown(context.Background()))
		require.Len(t, env.sink.all(), 1)
	})
	t.Run("same event under another webhook id", func(t *testing.T) {
		env := newWebhookEnv(t, nil)
		for i, id := range []string{"whk-A", "whk-B", "whk-C"} {
			code := env.post(t, body, map[string]string{SignatureHeader: sig, WebhookIDHeader: id})
			if i == 0 {
				require.Equal(t, http.StatusAccepted, code)
			} else {
				require.Equal(t, http.StatusOK, code)
			}
		}
		require.NoError(t, env.hook.Shutdown(context.Background()))
		require.Len(t, env.sink.all(), 1)
	})
}

func TestWebhookAnswers(t *testing.T) {
	secretValue := loadSignatures(t).Current
	sign := func(body string) map[string]string {
		return map[string]string{SignatureHeader: Sign([]byte(body), secret.String(secretValue))}
	}
	tests := []struct {
		name    string
		method  string
		body    string
		headers func(body string) map[string]string
		want    int
	}{
		{name: "unhandled event type", headers: sign, want: http.StatusOK,
			body: `{"event":{"id":"E1","event_type":"service.updated","resource_type":"service","data":{"id":"PSV"}}}`},
		{name: "ping", headers: sign, want: http.StatusOK,
			body: `{"event":{"id":"E2","event_type":"pagey.ping","resource_type":"pagey","data":{}}}`},
		{name: "signed but not json", headers: sign, want: http.StatusBadRequest, body: `{"event":`},
		{name: "signed without event", headers: sign, want: http.StatusBadRequest, body: `{}`},
		{name: "handled type without any id", headers: sign, want: http.StatusBadRequest,
			body: `{"event":{"event_type":"incident.resolved","data":{"id":"Q1"}}}`},
		{name: "get", method: http.MethodGet, want: http.StatusMethodNotAllowed},
		{name: "too large", headers: sign, want: http.StatusRequestEntityTooLarge,
			body: `{"event":{"id":"` + strings.Repeat("x", 2048) + `"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newWebhookEnv(t, func(o *WebhookOptions) { o.MaxBody = 1024 })
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, env.srv.URL, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.headers != nil {
				for k, v := range tt.headers(tt.body) {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tt.want, resp.StatusCode)
			require.NoError(t, env.hook.Shutdown(context.Background()))
			require.Empty(t, env.sink.all())
		})
	}
}

func TestWebhookHeaderIDWhenBodyHasNone(t *testing.T) {
	env := newWebhookEnv(t, nil)
	body := `{"event":{"event_type":"incident.resolved","data":{"id":"Q1","status":"resolved"}}}`
	headers := map[string]string{
		SignatureHeader: Sign([]byte(body), env.secrets[0]),
		WebhookIDHeader: "whk-9",
	}
	require.Equal(t, http.StatusAccepted, env.post(t, []byte(body), headers))
	require.Equal(t, http.StatusOK, env.post(t, []byte(body), headers))
	e := env.sink.next(t)
	require.Equal(t, "whk-9", e.ID)
	require.Equal(t, "resolved", e.Incident.Status)
}

// blockingSink holds every event until release is closed.
type blockingSink struct {
	*recordingSink
	release chan struct{}
}

func (b blockingSink) HandleEvent(ctx context.Context, e Event) {
	<-b.release
	b.recordingSink.HandleEvent(ctx, e)
}

func TestWebhookFullQueueAsksForRetry(t *testing.T) {
	sink := blockingSink{recordingSink: newSink(), release: make(chan struct{})}
	env := newWebhookEnv(t, func(o *WebhookOptions) {
		o.Sink, o.QueueSize, o.Workers, o.QueueWait = sink, 1, 1, 10*time.Millisecond
	})
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.acknowledged.json", ""))
	// The only slot is taken until the sink returns: the next delivery is
	// refused before its id is recorded.
	require.Equal(t, http.StatusServiceUnavailable, env.deliver(t, "incident.resolved.json", ""))
	require.Contains(t, env.logs.String(), "webhook queue full")

	close(sink.release)
	require.Equal(t, IncidentAcknowledged, sink.next(t).Type)
	// PagerDuty's retry is processed, not dropped as a duplicate.
	require.Eventually(t, func() bool {
		return env.deliver(t, "incident.resolved.json", "") == http.StatusAccepted
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, IncidentResolved, sink.next(t).Type)
}

func TestWebhookSeenFailureAsksForRetry(t *testing.T) {
	var mu sync.Mutex
	fail := true
	seen := ledgerSeen()
	env := newWebhookEnv(t, func(o *WebhookOptions) {
		o.Seen = func(ctx context.Context, id string) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return false, errors.New("store unavailable")
			}
			return seen(ctx, id)
		}
	})
	require.Equal(t, http.StatusServiceUnavailable, env.deliver(t, "incident.resolved.json", ""))
	mu.Lock()
	fail = false
	mu.Unlock()
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.resolved.json", ""))
	require.NoError(t, env.hook.Shutdown(context.Background()))
	require.Len(t, env.sink.all(), 1)
}

func TestWebhookAlertReads(t *testing.T) {
	unmatched := `{"alerts":[{"id":"A0CPU","type":"alert","summary":"CPU high on batch-7",
		"body":{"type":"alert_body","details":{"AlarmName":"batch-cpu","NewStateValue":"ALARM",
		"NewStateReason":"Threshold Crossed: 1 datapoint [99.0 (14/03/26 02:16:00)] was greater than the threshold (90.0).",
		"Trigger":{"MetricName":"CPUUtilization","Namespace":"AWS/EC2","Threshold":90.0,
		"ComparisonOperator":"GreaterThanThreshold","Dimensions":[{"name":"InstanceId","value":"i-1"}]}}}}],
		"limit":25,"offset":0,"more":false}`
	tests := []struct {
		name       string
		alerts     string // "" serves the sagemaker latency case
		failStatus int
		failN      int
		wantCalls  int
		wantAlerts int
		wantMatch  bool
		wantErr    string
		retryable  func(error) bool
	}{
		{name: "match", wantCalls: 1, wantAlerts: 1, wantMatch: true},
		{name: "two 5xx then success", failStatus: 503, failN: 2, wantCalls: 3, wantAlerts: 1,
			wantMatch: true},
		{name: "rate limited then success", failStatus: 429, failN: 1, wantCalls: 2, wantAlerts: 1,
			wantMatch: true},
		{name: "5xx every time", failStatus: 500, failN: 10, wantCalls: 3,
			wantErr: msgAlertsUnreadable},
		{name: "not found is not retried", failStatus: 404, failN: 10, wantCalls: 1,
			wantErr: msgAlertsUnreadable},
		{name: "unmatched alert still gives an event", alerts: unmatched, wantCalls: 1,
			wantAlerts: 1},
		{name: "no alerts", alerts: `{"alerts":[],"more":false}`, wantCalls: 1},
		{name: "caller's classification wins", failStatus: 503, failN: 10, wantCalls: 1,
			wantErr: msgAlertsUnreadable, retryable: func(error) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newWebhookEnv(t, func(o *WebhookOptions) { o.Retry.Retryable = tt.retryable })
			if tt.alerts != "" {
				env.pd.setAlerts(incidentID, []byte(tt.alerts))
			}
			if tt.failN > 0 {
				env.pd.failNext("/incidents/"+incidentID+"/alerts", tt.failN, tt.failStatus)
			}
			require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.triggered.json", ""))
			e := env.sink.next(t)
			require.Equal(t, IncidentTriggered, e.Type)
			require.Equal(t, incidentID, e.Incident.ID)
			require.Len(t, e.Alerts, tt.wantAlerts)
			require.Equal(t, tt.wantMatch, e.Match != nil)
			require.Equal(t, tt.wantErr, e.AlertsError)
			require.Equal(t, tt.wantCalls, env.pd.callCount("/incidents/"+incidentID+"/alerts"))
		})
	}
}

func TestWebhookKeepsAnIncidentsEventsInOrder(t *testing.T) {
	env := newWebhookEnv(t, func(o *WebhookOptions) { o.Workers = 8 })
	release := env.pd.holdAlerts()
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.triggered.json", ""))
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.acknowledged.json", ""))
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.resolved.json", ""))
	close(release)
	var got []string
	for range 3 {
		got = append(got, env.sink.next(t).Type)
	}
	require.Equal(t, []string{IncidentTriggered, IncidentAcknowledged, IncidentResolved}, got)
}

func TestWebhookAnnotatedKeepsReferenceWhenRefreshFails(t *testing.T) {
	env := newWebhookEnv(t, nil)
	env.pd.failNext("/incidents/"+incidentID, 10, 404)
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.annotated.json", ""))
	e := env.sink.next(t)
	want := Incident{
		ID:    incidentID,
		Title: "Shadow Self latency p99 > 500ms (prod, primary)",
		URL:   "https://example-oncall.pagerduty.com/incidents/Q1SHAD0WS3LF7X",
	}
	if d := cmp.Diff(e.Incident, want); d != "" {
		t.Errorf("incident (-got +want):\n%s", d)
	}
	require.NotEmpty(t, e.Note)
}

func TestWebhookShutdownDrains(t *testing.T) {
	sink := blockingSink{recordingSink: newSink(), release: make(chan struct{})}
	env := newWebhookEnv(t, func(o *WebhookOptions) { o.Sink, o.Workers = sink, 1 })
	for _, f := range []string{"incident.acknowledged.json", "incident.escalated.json",
		"incident.resolved.json"} {
		require.Equal(t, http.StatusAccepted, env.deliver(t, f, ""))
	}
	done := make(chan error, 1)
	go func() { done <- env.hook.Shutdown(context.Background()) }()
	// Deliveries after shutdown began are refused so PagerDuty retries.
	require.Eventually(t, func() bool {
		return env.deliver(t, "incident.reassigned.json", "") == http.StatusServiceUnavailable
	}, 10*time.Second, time.Millisecond)
	close(sink.release)
	require.NoError(t, <-done)
	require.Len(t, sink.all(), 3)
}

func TestWebhookShutdownDeadlineStillDelivers(t *testing.T) {
	// The REST fake never answers until the test ends: the shutdown
	// deadline cancels the read and the event reaches the sink without
	// its alerts.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(block) })
	env := newWebhookEnv(t, func(o *WebhookOptions) {
		o.Reader = newPDClient(&pdServer{Server: slow})
	})
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.triggered.json", ""))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, env.hook.Shutdown(ctx), context.Canceled)
	e := env.sink.next(t)
	require.Equal(t, msgAlertsUnreadable, e.AlertsError)
}

// panickySink panics on its first event.
type panickySink struct {
	*recordingSink
	once sync.Once
}

func (p *panickySink) HandleEvent(ctx context.Context, e Event) {
	p.once.Do(func() { panic("sink bug") })
	p.recordingSink.HandleEvent(ctx, e)
}

func TestWebhookSurvivesASinkPanic(t *testing.T) {
	sink := &panickySink{recordingSink: newSink()}
	env := newWebhookEnv(t, func(o *WebhookOptions) { o.Sink, o.Workers = sink, 1 })
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.acknowledged.json", ""))
	require.Equal(t, http.StatusAccepted, env.deliver(t, "incident.resolved.json", ""))
	require.Equal(t, IncidentResolved, sink.next(t).Type)
	require.Contains(t, env.logs.String(), "webhook event handler panicked")
}

func TestNewWebhookNeedsASecret(t *testing.T) {
	_, err := NewWebhook(WebhookOptions{Secrets: []secret.String{""}, Seen: ledgerSeen(), Sink: newSink()})
	require.EqualError(t, err, "new pagerduty webhook: no signing secret")
	_, err = NewWebhook(WebhookOptions{Secrets: []secret.String{"s3cr3t-value"}, Sink: newSink()})
	require.EqualError(t, err, "new pagerduty webhook: seen and sink are required")
	require.NotContains(t, err.Error(), "s3cr3t-value")
}
