package alerts

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	cacheIncidentID = "Q2CAT0SESS10N1"
	gpuIncidentID   = "Q3GPU0UT1L000X"
)

type pollEnv struct {
	pd     *pdServer
	sink   *recordingSink
	seen   SeenFunc
	page1  []byte
	page2  []byte
	poller *Poller
}

func newPollEnv(t *testing.T) *pollEnv {
	t.Helper()
	env := &pollEnv{
		pd:    newPDServer(t),
		sink:  newSink(),
		seen:  ledgerSeen(),
		page1: readCase(t, "pagerduty/rest/get_incidents_page1.json"),
		page2: readCase(t, "pagerduty/rest/get_incidents_page2.json"),
	}
	env.pd.setPages(env.page1, env.page2)
	env.pd.setAlerts(incidentID, readCase(t, "pagerduty/rest/get_incident_alerts_sagemaker_latency.json"))
	env.pd.setAlerts(cacheIncidentID,
		readCase(t, "pagerduty/rest/get_incident_alerts_elasticache_two_alerts.json"))
	env.poller = env.newPoller(t, nil)
	return env
}

func (env *pollEnv) newPoller(t *testing.T, change func(*PollerOptions)) *Poller {
	t.Helper()
	client := newPDClient(env.pd)
	opts := PollerOptions{
		Lister: client,
		Reader: client,
		Seen:   env.seen,
		Sink:   env.sink,
		Rules:  DefaultRules(),
		Retry:  Retry{Attempts: 2, Delay: time.Millisecond},
		Now:    func() time.Time { return at("2026-03-14T04:00:00Z") },
	}
	if change != nil {
		change(&opts)
	}
	p, err := NewPoller(opts)
	require.NoError(t, err)
	return p
}

// drain returns the events delivered since the last call.
func (env *pollEnv) drain() []Event {
	var out []Event
	for {
		select {
		case e := <-env.sink.got:
			out = append(out, e)
		default:
			return out
		}
	}
}

type brief struct{ ID, Type, Incident, Status, Step string }

func briefs(events []Event) []brief {
	var out []brief
	for _, e := range events {
		b := brief{e.ID, e.Type, e.Incident.ID, e.Incident.Status, ""}
		if e.Match != nil {
			b.Step = e.Match.Request.String()
		}
		out = append(out, b)
	}
	return out
}

func TestPollerLifecycle(t *testing.T) {
	env := newPollEnv(t)
	ctx := context.Background()

	// First poll: every open incident, over two pages, is announced once,
	// with its alerts matched.
	require.NoError(t, env.poller.Poll(ctx))
	listCalls := env.pd.callCount("/incidents") - env.pd.callCount("/incidents/")
	require.Equal(t, 2, listCalls, "both pages listed")
	require.Equal(t, []brief{
		{"poll:" + incidentID, IncidentTriggered, incidentID, "triggered", "scale shadow +10"},
		{"poll:" + cacheIncidentID, IncidentTriggered, cacheIncidentID, "acknowledged", "scale cache next"},
		{"poll:" + gpuIncidentID, IncidentTriggered, gpuIncidentID, "triggered", ""},
	}, briefs(env.drain()))

	// Nothing changed: nothing is announced.
	require.NoError(t, env.poller.Poll(ctx))
	require.Empty(t, env.drain())

	// The first incident is acknowledged.
	acked := bytes.Replace(env.page1, []byte(`"status": "triggered"`), []byte(`"status": "acknowledged"`), 1)
	acked = bytes.Replace(acked, []byte(`"last_status_change_at": "2026-03-14T02:17:05Z"`),
		[]byte(`"last_status_change_at": "2026-03-14T02:19:40Z"`), 1)
	env.pd.setPages(acked, env.page2)
	require.NoError(t, env.poller.Poll(ctx))
	ack := env.drain()
	require.Equal(t, []brief{
		{"poll:" + incidentID + ":acknowledged:2026-03-14T02:19:40Z", IncidentAcknowledged,
			incidentID, "acknowledged", ""},
	}, briefs(ack))
	require.Equal(t, "poll", ack[0].Source)

	// The third incident leaves the open list and reads as resolved.
	env.pd.setPages(acked, []byte(`{"incidents":[],"limit":2,"offset":2,"more":false}`))
	env.pd.setIncident(gpuIncidentID, []byte(`{"incident":{"id":"Q3GPU0UT1L000X","type":"incident",
		"incident_number":4823,"status":"resolved","last_status_change_at":"2026-03-14T03:10:00Z",
		"last_status_change_by":{"id":"PU9NAK3","type":"user_reference","summary":"Jun Nakamura"}}}`))
	require.NoError(t, env.poller.Poll(ctx))
	res := env.drain()
	require.Equal(t, []brief{
		{"poll:" + gpuIncidentID + ":resolved:2026-03-14T03:10:00Z", IncidentResolved,
			gpuIncidentID, "resolved", ""},
	}, briefs(res))
	require.Equal(t, "Jun Nakamura", res[0].Agent)

	// A new leader sharing the ledger announces nothing already announced.
	next := env.newPoller(t, nil)
	require.NoError(t, next.Poll(ctx))
	require.Empty(t, env.drain())
}

func TestPollerUnacknowledged(t *testing.T) {
	env := newPollEnv(t)
	ctx := context.Background()
	require.NoError(t, env.poller.Poll(ctx))
	env.drain()

	// The cache incident goes back to triggered.
	page := bytes.Replace(env.page1, []byte(`"status": "acknowledged"`), []byte(`"status": "triggered"`), 1)
	page = bytes.Replace(page, []byte(`"last_status_change_at": "2026-03-14T02:41:14Z"`),
		[]byte(`"last_status_change_at": "2026-03-14T02:50:00Z"`), 1)
	env.pd.setPages(page, env.page2)
	require.NoError(t, env.poller.Poll(ctx))
	require.Equal(t, []brief{
		{"poll:" + cacheIncidentID + ":triggered:2026-03-14T02:50:00Z", IncidentUnacknowledged,
			cacheIncidentID, "triggered", ""},
	}, briefs(env.drain()))
}

func TestPollerListErrorKeepsState(t *testing.T) {
	env := newPollEnv(t)
	ctx := context.Background()
	env.pd.failNext("/incidents", 1, 500)
	require.Error(t, env.poller.Poll(ctx))
	require.Empty(t, env.drain())

	require.NoError(t, env.poller.Poll(ctx))
	require.Len(t, env.drain(), 3)
}

func TestPollerRunOnlyWhenLeader(t *testing.T) {
	env := newPollEnv(t)
	var asked atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	p := env.newPoller(t, func(o *PollerOptions) {
		o.Interval = time.Millisecond
		o.Leader = func() bool {
			if asked.Add(1) == 5 {
				cancel()
			}
			return false
		}
	})
	require.NoError(t, p.Run(ctx))
	require.Zero(t, env.pd.callCount("/incidents"))
	require.Empty(t, env.drain())
}

func TestPollerRun(t *testing.T) {
	env := newPollEnv(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	p := env.newPoller(t, func(o *PollerOptions) {
		o.Interval = time.Millisecond
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	env.pd.failNext("/incidents", 1, 503)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for range 3 {
		env.sink.next(t)
	}
	cancel()
	require.NoError(t, <-done)
	require.Len(t, env.sink.all(), 3)
	require.Contains(t, logs.String(), "poll pagerduty incidents")
}

func TestNewPollerNeedsItsParts(t *testing.T) {
	_, err := NewPoller(PollerOptions{})
	require.EqualError(t, err, "new pagerduty poller: lister, seen and sink are required")
}
