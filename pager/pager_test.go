package pager_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/pager"
)

// requestCase is one of the cases' rest/*.request.json files.
type requestCase struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func TestRequestBodies(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		file  string
		edit  func(*pager.Config, *pager.Options)
		call  func(c *pager.Client) error
		check func(t *testing.T, inc pagerduty.Incident, f *pdfake.Server)
	}{
		{
			name: "acknowledge",
			file: "rest/put_incident_acknowledge.request.json",
			call: func(c *pager.Client) error { return c.Acknowledge(ctx, incidentID, alexEmail) },
			check: func(t *testing.T, inc pagerduty.Incident, _ *pdfake.Server) {
				require.Equal(t, "acknowledged", inc.Status)
				require.Len(t, inc.Acknowledgements, 1)
				require.Equal(t, "Alex Rivera", inc.Acknowledgements[0].Acknowledger.Summary)
			},
		},
		{
			name: "resolve",
			file: "rest/put_incident_resolve.request.json",
			call: func(c *pager.Client) error {
				return c.Resolve(ctx, incidentID, alexEmail, "Scaled cato-shadow-self/primary 2->4; p99 back under 300ms.")
			},
			check: func(t *testing.T, inc pagerduty.Incident, _ *pdfake.Server) {
				require.Equal(t, "resolved", inc.Status)
				require.Empty(t, inc.Assignments)
			},
		},
		{
			name: "escalate level",
			file: "rest/put_incident_escalate_level.request.json",
			edit: func(c *pager.Config, _ *pager.Options) {
				c.EscalateMode, c.EscalationLevel = pager.EscalateLevel, 2
			},
			call: func(c *pager.Client) error { return c.Escalate(ctx, incidentID, alexEmail) },
			check: func(t *testing.T, inc pagerduty.Incident, _ *pdfake.Server) {
				require.Equal(t, "Sam Okafor", inc.Assignments[0].Assignee.Summary)
			},
		},
		{
			name: "escalate by reassigning to the team's policy",
			file: "rest/put_incident_reassign_escalation_policy.request.json",
			edit: func(c *pager.Config, _ *pager.Options) {
				c.EscalateMode, c.EscalationPolicy = pager.EscalateReassign, "PEP0DBA"
			},
			call: func(c *pager.Client) error { return c.Escalate(ctx, incidentID, alexEmail) },
			check: func(t *testing.T, inc pagerduty.Incident, _ *pdfake.Server) {
				require.Equal(t, "PEP0DBA", inc.EscalationPolicy.ID)
				require.Equal(t, "Jun Nakamura", inc.Assignments[0].Assignee.Summary)
			},
		},
		{
			name: "reassign to a user",
			file: "rest/put_incident_reassign_user.request.json",
			call: func(c *pager.Client) error { return c.Reassign(ctx, incidentID, alexEmail, "PU9NAK3") },
			check: func(t *testing.T, inc pagerduty.Incident, _ *pdfake.Server) {
				require.Len(t, inc.Assignments, 1)
				require.Equal(t, "PU9NAK3", inc.Assignments[0].Assignee.ID)
			},
		},
		{
			name: "note",
			file: "rest/post_incident_note.request.json",
			call: func(c *pager.Client) error {
				return c.AddNote(ctx, incidentID, alexEmail,
					"cato: rollout undo deployment/cato-orchestrator -n cato to revision 41 (requested by @alex)")
			},
			check: func(t *testing.T, _ pagerduty.Incident, f *pdfake.Server) {
				notes := f.Notes(incidentID)
				require.Len(t, notes, 1)
				require.Equal(t, "Alex Rivera", notes[0].User.Summary)
				require.Contains(t, notes[0].Content, "revision 41")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want requestCase
			require.NoError(t, json.Unmarshal(readCase(t, tt.file), &want))
			e := newEnv(t, tt.edit)
			require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))

			require.NoError(t, tt.call(e.client))

			calls := e.fake.Calls()
			require.Len(t, calls, 1)
			got := calls[0]
			require.Equal(t, want.Method, got.Method)
			require.Equal(t, want.Path, got.Path)
			requireJSONEqual(t, got.Body, want.Body)
			for k, v := range want.Headers {
				if k == "Authorization" {
					v = "Token token=" + testToken
				}
				require.Equal(t, v, got.Header.Get(k), "header %s", k)
			}
			inc, ok := e.fake.Incident(incidentID)
			require.True(t, ok)
			tt.check(t, inc, e.fake)
		})
	}
}

func TestNoEmailSendsNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		from string
		want error
		call func(c *pager.Client, from string) error
	}{
		{name: "acknowledge without email", from: "", want: pager.ErrNoEmail,
			call: func(c *pager.Client, from string) error { return c.Acknowledge(ctx, incidentID, from) }},
		{name: "escalate with blank email", from: "  ", want: pager.ErrNoEmail,
			call: func(c *pager.Client, from string) error { return c.Escalate(ctx, incidentID, from) }},
		{name: "note without email", from: "", want: pager.ErrNoEmail,
			call: func(c *pager.Client, from string) error { return c.AddNote(ctx, incidentID, from, "x") }},
		{name: "a name is not an email", from: "Alex Rivera", want: pager.ErrUnknownRequester,
			call: func(c *pager.Client, from string) error { return c.Resolve(ctx, incidentID, from, "") }},
		{name: "user lookup without email", from: "", want: pager.ErrNoEmail,
			call: func(c *pager.Client, from string) error { _, err := c.UserByEmail(ctx, from); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))

			err := tt.call(e.client, tt.from)
			require.ErrorIs(t, err, tt.want)
			require.Empty(t, e.fake.Calls(), "nothing may be sent without the clicker's email")
			require.Equal(t, "triggered", mustIncident(t, e.fake).Status)
			require.NotEmpty(t, pager.Message(err))
		})
	}

	// The negative case file is what would have gone out; the fake answers
	// it the way PagerDuty does.
	t.Run("fake refuses the missing-from request", func(t *testing.T) {
		var rc requestCase
		require.NoError(t, json.Unmarshal(readCase(t, "rest/put_incident_acknowledge_missing_from.request.json"), &rc))
		e := newEnv(t, nil)
		require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))
		req, err := http.NewRequest(rc.Method, e.fake.URL()+rc.Path, strings.NewReader(string(rc.Body)))
		require.NoError(t, err)
		for k, v := range rc.Headers {
			req.Header.Set(k, strings.ReplaceAll(v, "REDACTED", testToken))
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		var body struct{ Error pagerduty.APIErrorObject }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		require.Equal(t, 2016, body.Error.Code)
	})
}

func mustIncident(t *testing.T, f *pdfake.Server) pagerduty.Incident {
	t.Helper()
	inc, ok := f.Incident(incidentID)
	require.True(t, ok)
	return inc
}

// caseStatus reads the _status a case error file names.
func caseStatus(t *testing.T, body []byte) int {
	var doc struct {
		Status int `json:"_status"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	require.NotZero(t, doc.Status)
	return doc.Status
}

func TestErrorBodies(t *testing.T) {
	unknownUser := "Your email maps to no PagerDuty user, so I can't act in PagerDuty as you. " +
		"Ask a PagerDuty admin to add your Slack email to your PagerDuty profile."
	tests := []struct {
		name      string
		file      string
		times     int
		want      error
		wantKind  actions.Kind
		wantMsg   string
		wantCalls int
	}{
		{name: "missing from", file: "rest/error_missing_from_header.response.json", times: 1,
			want: pager.ErrUnknownRequester, wantKind: actions.KindRefused, wantMsg: unknownUser, wantCalls: 1},
		{name: "malformed from", file: "rest/error_malformed_from_header.response.json", times: 1,
			want: pager.ErrUnknownRequester, wantKind: actions.KindRefused, wantMsg: unknownUser, wantCalls: 1},
		{name: "requester not found", file: "rest/error_requester_user_not_found.response.json", times: 1,
			want: pager.ErrUnknownRequester, wantKind: actions.KindRefused, wantMsg: unknownUser, wantCalls: 1},
		{name: "rate limited past the retries", file: "rest/error_rate_limited.response.json", times: 10,
			want: pager.ErrRateLimited, wantKind: actions.KindUnavailable, wantCalls: 4,
			wantMsg: "PagerDuty is rate-limiting the bot right now; nothing was changed. Try again in a minute."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := readCase(t, tt.file)
			e := newEnv(t, nil)
			require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))
			e.fake.Queue(pdfake.Reply{Status: caseStatus(t, body), Body: body}, tt.times)

			err := e.client.Acknowledge(context.Background(), incidentID, alexEmail)
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, tt.wantMsg, pager.Message(err))
			require.Equal(t, tt.wantKind, actions.KindOf(pager.ActionError(err)))
			require.Equal(t, tt.wantCalls, e.fake.Count(http.MethodPut, "/incidents/"+incidentID))
			var ae *pager.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, caseStatus(t, body), ae.Status)
		})
	}
}

func TestFakeFromChecks(t *testing.T) {
	e := newEnv(t, nil)
	require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))

	err := e.client.Acknowledge(context.Background(), incidentID, "nobody@example.com")
	require.ErrorIs(t, err, pager.ErrUnknownRequester)
	require.Equal(t, 1, e.fake.Count(http.MethodPut, "/incidents/"+incidentID), "no retry")
	require.Equal(t, "triggered", mustIncident(t, e.fake).Status)
	require.EqualError(t, err, "acknowledge incident Q1SHAD0WS3LF7X: pagerduty answered 400: Requester User Not Found (code 1008)")
}

func TestEscalationBeyondLastLevel(t *testing.T) {
	e := newEnv(t, func(c *pager.Config, _ *pager.Options) {
		c.EscalateMode, c.EscalationLevel = pager.EscalateLevel, 5
	})
	require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))

	err := e.client.Escalate(context.Background(), incidentID, alexEmail)
	require.ErrorIs(t, err, pager.ErrRejected)
	require.Contains(t, pager.Message(err), "PagerDuty refused the request: Invalid Input Provided (Escalation level 5")
}

func TestIncidentAndAlerts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *pager.Config, _ *pager.Options) { c.PageSize = 1 })
	require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incidents_page1.json")))
	require.NoError(t, e.fake.SeedAlerts(readCase(t, "rest/get_incident_alerts_elasticache_two_alerts.json")))
	require.NoError(t, e.fake.SeedAlerts(readCase(t, "rest/get_incident_alerts_sagemaker_latency.json")))

	inc, err := e.client.Incident(ctx, incidentID)
	require.NoError(t, err)
	require.Equal(t, uint(4821), inc.IncidentNumber)
	require.Equal(t, "PSV5HS1", inc.Service.ID)

	alerts, err := e.client.IncidentAlerts(ctx, "Q2CAT0SESS10N1")
	require.NoError(t, err)
	require.Len(t, alerts, 2, "two alerts over two pages")
	require.Equal(t, "A0HIT0RATE02", alerts[1].ID)
	details, ok := alerts[0].Body["details"].(map[string]any)
	require.True(t, ok)
	require.Equal(t, "cato-cache-production-memory-high", details["AlarmName"])
	require.Equal(t, 2, e.fake.Count(http.MethodGet, "/incidents/Q2CAT0SESS10N1/alerts"))

	_, err = e.client.Incident(ctx, "QNOSUCH")
	require.ErrorIs(t, err, pager.ErrNotFound)
	require.Equal(t, actions.KindNotFound, actions.KindOf(pager.ActionError(err)))

	e.fake.ResetCalls()
	_, err = e.client.Incident(ctx, "../users")
	require.ErrorIs(t, err, pager.ErrInvalidID)
	require.Empty(t, e.fake.Calls())
}

func TestOpenIncidentsPagination(t *testing.T) {
	ctx := context.Background()
	want := []string{"Q1SHAD0WS3LF7X", "Q2CAT0SESS10N1", "Q3GPU0UT1L000X"}

	t.Run("serves the case pages", func(t *testing.T) {
		e := newEnv(t, nil)
		e.fake.Queue(pdfake.Reply{Method: http.MethodGet, Path: "/incidents",
			Body: readCase(t, "rest/get_incidents_page1.json")}, 1)
		e.fake.Queue(pdfake.Reply{Method: http.MethodGet, Path: "/incidents",
			Body: readCase(t, "rest/get_incidents_page2.json")}, 1)

		incs, err := e.client.OpenIncidents(ctx, testNow.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, want, ids(incs))

		calls := e.fake.Calls()
		require.Len(t, calls, 2)
		require.Equal(t, "", calls[0].Query.Get("offset"))
		require.Equal(t, "2", calls[1].Query.Get("offset"), "offset of page 2 is page 1's offset+limit")
		require.Equal(t, []string{"triggered", "acknowledged"}, calls[0].Query["statuses[]"])
		require.Equal(t, []string{"PSV5HS1", "PSV0DS2"}, calls[0].Query["service_ids[]"])
		require.Equal(t, "2026-03-14T02:00:00Z", calls[0].Query.Get("since"))
	})

	t.Run("fake state with page size 2", func(t *testing.T) {
		e := newEnv(t, func(c *pager.Config, _ *pager.Options) { c.PageSize = 2 })
		require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incidents_page1.json")))
		require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incidents_page2.json")))

		incs, err := e.client.OpenIncidents(ctx, time.Time{})
		require.NoError(t, err)
		require.Equal(t, want, ids(incs))
		require.Equal(t, 2, e.fake.Count(http.MethodGet, "/incidents"))
	})

	t.Run("no services configured", func(t *testing.T) {
		e := newEnv(t, func(c *pager.Config, _ *pager.Options) { c.Services = nil })
		_, err := e.client.OpenIncidents(ctx, time.Time{})
		require.ErrorIs(t, err, pager.ErrNoServices)
	})
}

func ids(incs []pagerduty.Incident) []string {
	var out []string
	for _, inc := range incs {
		out = append(out, inc.ID)
	}
	return out
}

func TestOpenIncidentsNarrowsOnOffsetLimit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *pager.Config, _ *pager.Options) { c.PageSize = 2 })
	e.fake.SetMaxOffset(4)
	var want []string
	for i := range 10 {
		id := fmt.Sprintf("QSTORM%02d", i)
		want = append(want, id)
		e.fake.PutIncident(pagerduty.Incident{
			APIObject: pagerduty.APIObject{ID: id, Type: "incident"},
			Status:    "triggered",
			Service:   pagerduty.APIObject{ID: "PSV5HS1"},
			CreatedAt: testNow.Add(-time.Hour + time.Duration(i)*time.Minute).Format(time.RFC3339),
		})
	}

	incs, err := e.client.OpenIncidents(ctx, testNow.Add(-2*time.Hour))
	require.NoError(t, err)
	require.ElementsMatch(t, want, ids(incs))
	require.Len(t, incs, 10, "no duplicates")

	windows := map[string]bool{}
	for _, c := range e.fake.Calls() {
		windows[c.Query.Get("since")+"/"+c.Query.Get("until")] = true
		o := c.Query.Get("offset")
		require.NotEqual(t, "6", o, "never pages past the limit in one window")
	}
	require.Greater(t, len(windows), 1, "the date range was split")
	require.Contains(t, e.logs.String(), "pagerduty listing narrowed")

	t.Run("case body triggers narrowing", func(t *testing.T) {
		e := newEnv(t, nil)
		require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incidents_page1.json")))
		body := readCase(t, "rest/error_offset_limit_exceeded.response.json")
		e.fake.Queue(pdfake.Reply{Path: "/incidents", Status: caseStatus(t, body), Body: body}, 1)

		incs, err := e.client.OpenIncidents(ctx, testNow.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, []string{"Q1SHAD0WS3LF7X", "Q2CAT0SESS10N1"}, ids(incs))
		calls := e.fake.Calls()
		require.Len(t, calls, 3)
		require.Equal(t, calls[0].Query.Get("since"), calls[1].Query.Get("since"))
		require.Equal(t, calls[1].Query.Get("until"), calls[2].Query.Get("since"))
		require.Equal(t, calls[0].Query.Get("until"), calls[2].Query.Get("until"))
	})
}

func TestRateLimitRetries(t *testing.T) {
	tests := []struct {
		name       string
		queue      func(f *pdfake.Server)
		wantSleeps []time.Duration
		wantErr    error
		wantPuts   int
	}{
		{name: "retry-after honoured", queue: func(f *pdfake.Server) { f.RateLimit(2, "7") },
			wantSleeps: []time.Duration{7 * time.Second, 7 * time.Second}, wantPuts: 3},
		{name: "ratelimit-reset honoured", queue: func(f *pdfake.Server) {
			f.Queue(pdfake.Reply{Status: 429, Header: http.Header{"Ratelimit-Reset": {"12"}}}, 1)
		}, wantSleeps: []time.Duration{12 * time.Second}, wantPuts: 2},
		{name: "exponential without headers", queue: func(f *pdfake.Server) { f.RateLimit(3, "") },
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, wantPuts: 4},
		{name: "capped wait", queue: func(f *pdfake.Server) { f.RateLimit(1, "3600") },
			wantSleeps: []time.Duration{time.Minute}, wantPuts: 2},
		{name: "exhausted", queue: func(f *pdfake.Server) { f.RateLimit(10, "1") },
			wantSleeps: []time.Duration{time.Second, time.Second, time.Second}, wantPuts: 4,
			wantErr: pager.ErrRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))
			tt.queue(e.fake)

			err := e.client.Acknowledge(context.Background(), incidentID, alexEmail)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Equal(t, "triggered", mustIncident(t, e.fake).Status)
			} else {
				require.NoError(t, err)
				require.Equal(t, "acknowledged", mustIncident(t, e.fake).Status)
			}
			require.Equal(t, tt.wantSleeps, e.slept())
			require.Equal(t, tt.wantPuts, e.fake.Count(http.MethodPut, "/incidents/"+incidentID))
			for _, c := range e.fake.Calls() {
				requireJSONEqual(t, c.Body, []byte(`{"incident":{"type":"incident_reference","status":"acknowledged"}}`))
			}
		})
	}

	t.Run("reads retried too", func(t *testing.T) {
		e := newEnv(t, nil)
		require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))
		e.fake.RateLimit(1, "")
		_, err := e.client.Incident(context.Background(), incidentID)
		require.NoError(t, err)
		require.Equal(t, 2, e.fake.Count(http.MethodGet, "/incidents/"+incidentID))
	})

	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		e := newEnv(t, func(_ *pager.Config, o *pager.Options) {
			o.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
		})
		require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))
		e.fake.RateLimit(1, "")
		err := e.client.Acknowledge(ctx, incidentID, alexEmail)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1, e.fake.Count(http.MethodPut, "/incidents/"+incidentID))
	})
}

func TestUsersAndOnCall(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)

	u, err := e.client.UserByEmail(ctx, "Alex.Rivera@example.com")
	require.NoError(t, err)
	require.Equal(t, "PU7RIV1", u.ID)
	require.Equal(t, "Alex.Rivera@example.com", e.fake.Calls()[0].Query.Get("query"))

	_, err = e.client.UserByEmail(ctx, "nobody@example.com")
	require.ErrorIs(t, err, pager.ErrUnknownRequester)

	users, err := e.client.OnCallUsers(ctx, pdfake.ConsciousnessPolicyID)
	require.NoError(t, err)
	require.Len(t, users, 1)
	require.Equal(t, "jun.nakamura@example.com", users[0].Email)

	on, err := e.client.IsOnCall(ctx, pdfake.CatoPolicyID, "sam.okafor@example.com")
	require.NoError(t, err)
	require.True(t, on)
	on, err = e.client.IsOnCall(ctx, pdfake.ConsciousnessPolicyID, "sam.okafor@example.com")
	require.NoError(t, err)
	require.False(t, on)
}

func TestDryRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(_ *pager.Config, o *pager.Options) { o.DryRun = true })
	require.NoError(t, e.fake.SeedIncidents(readCase(t, "rest/get_incident.json")))

	require.NoError(t, e.client.Acknowledge(ctx, incidentID, alexEmail))
	require.NoError(t, e.client.AddNote(ctx, incidentID, alexEmail, "note"))
	key, err := e.client.Trigger(ctx, pager.Event{Summary: "s", Source: "src", Severity: "critical", DedupKey: "k"})
	require.NoError(t, err)
	require.Equal(t, "k", key)
	require.ErrorIs(t, e.client.Acknowledge(ctx, incidentID, ""), pager.ErrNoEmail, "still checks the email")

	require.Empty(t, e.fake.Calls())
	require.Equal(t, "triggered", mustIncident(t, e.fake).Status)
	require.Contains(t, e.logs.String(), "pagerduty call skipped")
	require.Contains(t, e.logs.String(), "dry_run=true")
}

func TestErrorsAreWrappedForActions(t *testing.T) {
	err := fmt.Errorf("escalate: %w", pager.ErrNoEmail)
	var ae *actions.Error
	require.True(t, errors.As(pager.ActionError(err), &ae))
	require.Equal(t, actions.KindRefused, ae.Kind)
	require.Equal(t, pager.Message(err), ae.Msg)
	require.Nil(t, pager.ActionError(nil))
}
