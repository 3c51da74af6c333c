package pager_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/pager"
)

// caseEvent turns an events_v2 trigger case into an Event.
func caseEvent(t *testing.T, file string) (pager.Event, pagerduty.V2Event) {
	t.Helper()
	var v2 pagerduty.V2Event
	require.NoError(t, json.Unmarshal(readCase(t, file), &v2))
	details, _ := v2.Payload.Details.(map[string]any)
	return pager.Event{
		Summary:       v2.Payload.Summary,
		Source:        v2.Payload.Source,
		Severity:      v2.Payload.Severity,
		DedupKey:      v2.DedupKey,
		Component:     v2.Payload.Component,
		Group:         v2.Payload.Group,
		Class:         v2.Payload.Class,
		CustomDetails: details,
	}, v2
}

func TestTrigger(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		file      string
		reply     *pdfake.Reply
		severity  string
		wantKey   string
		wantErr   error
		wantInMsg string
	}{
		{name: "shadow self latency opens an incident", file: "events_v2/trigger_shadow_self_latency_p99.json",
			wantKey: "cw/us-east-1/shadow-self-latency-p99"},
		{name: "elasticache memory opens an incident", file: "events_v2/trigger_elasticache_memory.json",
			wantKey: "cw/us-east-1/cato-cache-production-memory-high"},
		{name: "202 case body keeps its dedup key", file: "events_v2/trigger_shadow_self_latency_p99.json",
			reply:   &pdfake.Reply{Path: "/v2/enqueue", Status: http.StatusAccepted},
			wantKey: "cw/us-east-1/shadow-self-latency-p99"},
		{name: "invalid severity is refused by the fake", file: "events_v2/trigger_elasticache_memory.json",
			severity: "fatal", wantErr: pager.ErrEventRejected,
			wantInMsg: "'payload.severity' is invalid (must be one of: critical, error, warning, info)"},
		{name: "400 case body", file: "events_v2/trigger_elasticache_memory.json",
			reply:   &pdfake.Reply{Path: "/v2/enqueue", Status: http.StatusBadRequest},
			wantErr: pager.ErrEventRejected, wantInMsg: "Event object is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ev, v2 := caseEvent(t, tt.file)
			if tt.severity != "" {
				ev.Severity = tt.severity
			}
			if tt.reply != nil {
				r := *tt.reply
				r.Body = readCase(t, "events_v2/response_202.json")
				if r.Status == http.StatusBadRequest {
					r.Body = readCase(t, "events_v2/response_400.json")
				}
				e.fake.Queue(r, 1)
			}

			key, err := e.client.Trigger(ctx, ev)
			require.Equal(t, 1, e.fake.Count(http.MethodPost, "/v2/enqueue"), "never retried")
			calls := e.fake.Calls()
			require.Empty(t, calls[0].Header.Get("Authorization"), "the Events API takes no token")
			var sent pagerduty.V2Event
			require.NoError(t, json.Unmarshal(calls[0].Body, &sent))
			require.Equal(t, testRoutingKey, sent.RoutingKey)
			require.Equal(t, "trigger", sent.Action)
			require.Equal(t, v2.DedupKey, sent.DedupKey)
			requireJSONEqual(t, mustJSON(t, sent.Payload.Details), mustJSON(t, v2.Payload.Details))

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Contains(t, pager.Message(err), tt.wantInMsg)
				require.Contains(t, e.logs.String(), "pagerduty event rejected")
				require.Contains(t, e.logs.String(), "payload.severity")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantKey, key)
			if tt.reply == nil {
				incs := e.fake.Incidents()
				require.Len(t, incs, 1)
				require.Equal(t, tt.wantKey, incs[0].IncidentKey)
				require.Equal(t, "Alex Rivera", incs[0].Assignments[0].Assignee.Summary)
				alerts := e.fake.Alerts(incs[0].ID)
				require.Len(t, alerts, 1)
				require.NotEmpty(t, alerts[0].Body["details"])
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestTriggerWithoutRoutingKey(t *testing.T) {
	e := newEnv(t, nil)
	c, err := pager.New(e.client.Config(), pager.Secrets{Token: testToken}, pager.Options{})
	require.NoError(t, err)

	_, err = c.Trigger(context.Background(), pager.Event{Summary: "s", Source: "x", Severity: "critical"})
	require.ErrorIs(t, err, pager.ErrNoRoutingKey)
	require.Empty(t, e.fake.Calls())
}

func TestTriggerGeneratedDedupKey(t *testing.T) {
	e := newEnv(t, nil)
	key, err := e.client.Trigger(context.Background(), pager.Event{
		Summary: strings.Repeat("x", 2000), Source: "cato", Severity: "warning"})
	require.NoError(t, err)
	require.NotEmpty(t, key, "PagerDuty's dedup key is kept")
	evs := e.fake.Events()
	require.Len(t, evs, 1)
	require.Len(t, []rune(evs[0].Payload.Summary), 1024, "summary cut to the Events API limit")
}
