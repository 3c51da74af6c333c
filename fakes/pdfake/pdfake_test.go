package pdfake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/pdfake"
)

const (
	token = "fake-token-123"
	rkey  = "R0UT1NGKEYSHADOWSELF0000000000AA"
	q1    = "Q1SHAD0WS3LF7X"
)

func readCase(t *testing.T, rel string) []byte {
	t.Helper()
	dir := os.Getenv("CATOBOT_CASES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "cases", "payloads")
	}
	b, err := os.ReadFile(filepath.Join(dir, "pagerduty", rel))
	if os.IsNotExist(err) {
		t.Skipf("test cases not found at %s (set CATOBOT_CASES)", dir)
	}
	require.NoError(t, err)
	return b
}

func setup(t *testing.T) (*pdfake.Server, *pagerduty.Client) {
	t.Helper()
	f := pdfake.New(token)
	t.Cleanup(f.Close)
	f.SetClock(func() time.Time { return time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC) })
	require.NoError(t, f.SeedIncidents(readCase(t, "rest/get_incidents_page1.json")))
	require.NoError(t, f.SeedIncidents(readCase(t, "rest/get_incidents_page2.json")))
	require.NoError(t, f.SeedAlerts(readCase(t, "rest/get_incident_alerts_sagemaker_latency.json")))
	c := pagerduty.NewClient(token, pagerduty.WithAPIEndpoint(f.URL()), pagerduty.WithV2EventsAPIEndpoint(f.URL()))
	return f, c
}

func apiCode(t *testing.T, err error) (int, int) {
	t.Helper()
	var ae pagerduty.APIError
	require.ErrorAs(t, err, &ae)
	return ae.StatusCode, ae.APIError.ErrorObject.Code
}

func TestAuthAndFrom(t *testing.T) {
	ctx := context.Background()
	f, c := setup(t)
	ack := []pagerduty.ManageIncidentsOptions{{ID: q1, Status: "acknowledged"}}

	bad := pagerduty.NewClient("wrong", pagerduty.WithAPIEndpoint(f.URL()))
	_, err := bad.GetIncidentWithContext(ctx, q1)
	status, code := apiCode(t, err)
	require.Equal(t, []int{401, 2006}, []int{status, code})

	tests := []struct {
		name     string
		from     string
		wantCode int
	}{
		{name: "missing", from: "", wantCode: 2016},
		{name: "malformed", from: "Alex Rivera <alex.rivera@example.com>", wantCode: 1028},
		{name: "unknown user", from: "nobody@example.com", wantCode: 1008},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ManageIncidentsWithContext(ctx, tt.from, ack)
			status, code := apiCode(t, err)
			require.Equal(t, []int{400, tt.wantCode}, []int{status, code})
		})
	}
	inc, _ := f.Incident(q1)
	require.Equal(t, "triggered", inc.Status)
}

func TestMutations(t *testing.T) {
	ctx := context.Background()
	f, c := setup(t)

	res, err := c.ManageIncidentsWithContext(ctx, "alex.rivera@example.com",
		[]pagerduty.ManageIncidentsOptions{{ID: q1, Status: "acknowledged"}})
	require.NoError(t, err)
	require.Equal(t, "acknowledged", res.Incidents[0].Status)
	require.Equal(t, "PU7RIV1", res.Incidents[0].Acknowledgements[0].Acknowledger.ID)

	_, err = c.ManageIncidentsWithContext(ctx, "alex.rivera@example.com",
		[]pagerduty.ManageIncidentsOptions{{ID: q1, EscalationLevel: 2}})
	require.NoError(t, err)
	inc, _ := f.Incident(q1)
	require.Equal(t, "PU8OKO2", inc.Assignments[0].Assignee.ID)

	_, err = c.ManageIncidentsWithContext(ctx, "alex.rivera@example.com",
		[]pagerduty.ManageIncidentsOptions{{ID: q1, EscalationLevel: 3}})
	status, code := apiCode(t, err)
	require.Equal(t, []int{400, 2001}, []int{status, code})

	note, err := c.CreateIncidentNoteWithContext(ctx, q1, pagerduty.IncidentNote{
		Content: "scaled", User: pagerduty.APIObject{Summary: "sam.okafor@example.com"}})
	require.NoError(t, err)
	require.Equal(t, "Sam Okafor", note.User.Summary)
	require.Len(t, f.Notes(q1), 1)

	_, err = c.ManageIncidentsWithContext(ctx, "jun.nakamura@example.com",
		[]pagerduty.ManageIncidentsOptions{{ID: q1, Status: "resolved", Resolution: "fixed"}})
	require.NoError(t, err)
	inc, _ = f.Incident(q1)
	require.Equal(t, "resolved", inc.Status)
	require.Equal(t, "fixed", f.Notes(q1)[1].Content)

	_, err = c.ManageIncidentsWithContext(ctx, "alex.rivera@example.com",
		[]pagerduty.ManageIncidentsOptions{{ID: q1, Status: "acknowledged"}})
	require.Error(t, err, "a resolved incident cannot be acknowledged")

	_, err = c.GetIncidentWithContext(ctx, "QNONE")
	status, code = apiCode(t, err)
	require.Equal(t, []int{404, 2100}, []int{status, code})

	calls := f.Calls()
	require.Equal(t, "alex.rivera@example.com", calls[0].From)
	require.Equal(t, "/incidents", calls[0].Path)
}

func TestListing(t *testing.T) {
	ctx := context.Background()
	f, c := setup(t)

	res, err := c.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{
		Statuses: []string{"acknowledged"}, ServiceIDs: []string{"PSV0DS2"}})
	require.NoError(t, err)
	require.Len(t, res.Incidents, 1)
	require.Equal(t, "Q2CAT0SESS10N1", res.Incidents[0].ID)

	res, err = c.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{Limit: 2})
	require.NoError(t, err)
	require.True(t, res.More)
	require.Len(t, res.Incidents, 2)

	res, err = c.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{
		Since: "2026-03-14T02:30:00Z", Until: "2026-03-14T03:00:00Z"})
	require.NoError(t, err)
	require.Len(t, res.Incidents, 1, "created_at filtered by since/until")

	f.SetMaxOffset(10)
	_, err = c.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{Offset: 10, Limit: 1})
	status, code := apiCode(t, err)
	require.Equal(t, []int{400, 2002}, []int{status, code})
	require.Contains(t, err.Error(), "maximum allowed value of 10")
	f.SetMaxOffset(pdfake.DefaultMaxOffset)

	raw := f.Calls()[0]
	require.Equal(t, []string{"acknowledged"}, raw.Query["statuses[]"])

	alerts, err := c.ListIncidentAlertsWithContext(ctx, q1, pagerduty.ListIncidentAlertsOptions{})
	require.NoError(t, err)
	require.Len(t, alerts.Alerts, 1)
	require.Equal(t, "A0LAT0P99001", alerts.Alerts[0].ID)

	users, err := c.ListUsersWithContext(ctx, pagerduty.ListUsersOptions{Query: "jun.nakamura@example.com"})
	require.NoError(t, err)
	require.Len(t, users.Users, 1)

	oc, err := c.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{EscalationPolicyIDs: []string{pdfake.CatoPolicyID}})
	require.NoError(t, err)
	require.Len(t, oc.OnCalls, 2)
	require.Equal(t, uint(2), oc.OnCalls[1].EscalationLevel)
}

func TestEvents(t *testing.T) {
	ctx := context.Background()
	f, c := setup(t)
	f.AddRoutingKey(pdfake.RoutingKey{Key: rkey, ServiceID: "PSV5HS1", PolicyID: pdfake.CatoPolicyID})
	send := func(file string) (*pagerduty.V2EventResponse, error) {
		var ev pagerduty.V2Event
		require.NoError(t, json.Unmarshal(readCase(t, file), &ev))
		return c.ManageEventWithContext(ctx, &ev)
	}

	resp, err := send("events_v2/trigger_shadow_self_latency_p99.json")
	require.NoError(t, err)
	require.Equal(t, "cw/us-east-1/shadow-self-latency-p99", resp.DedupKey)
	incs := f.Incidents()
	opened := incs[len(incs)-1]
	require.Equal(t, "triggered", opened.Status)
	require.Equal(t, "cato-orchestrator", f.Alerts(opened.ID)[0].Body["details"].(map[string]any)["k8s"].(map[string]any)["deployment"])

	_, err = send("events_v2/acknowledge.json")
	require.NoError(t, err)
	_, err = send("events_v2/resolve_wrong_routing_key.json")
	require.NoError(t, err, "accepted and dropped")
	inc, _ := f.Incident(opened.ID)
	require.Equal(t, "acknowledged", inc.Status)

	_, err = send("events_v2/resolve.json")
	require.NoError(t, err)
	inc, _ = f.Incident(opened.ID)
	require.Equal(t, "resolved", inc.Status)
	require.Len(t, f.Events(), 4)

	_, err = c.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: rkey, Action: "trigger",
		Payload: &pagerduty.V2Payload{Summary: "s", Source: "x", Severity: "fatal"}})
	var ae pagerduty.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusBadRequest, ae.StatusCode)
}

func TestRepliesAndRecorder(t *testing.T) {
	ctx := context.Background()
	f, c := setup(t)

	f.RateLimit(1, "3")
	_, err := c.GetIncidentWithContext(ctx, q1)
	require.True(t, err.(pagerduty.APIError).RateLimited())
	_, err = c.GetIncidentWithContext(ctx, q1)
	require.NoError(t, err, "only the queued number of replies")

	f.Queue(pdfake.Reply{Status: 500, EchoRequest: true, Path: "/incidents/" + q1}, 1)
	_, err = c.GetIncidentWithContext(ctx, q1)
	require.Contains(t, err.Error(), "Token token="+token, "the echo quotes the headers")
	require.Equal(t, 3, f.Count(http.MethodGet, "/incidents/"+q1))

	f.ResetCalls()
	require.Empty(t, f.Calls())
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	f, c := setup(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.ManageIncidentsWithContext(ctx, "alex.rivera@example.com",
				[]pagerduty.ManageIncidentsOptions{{ID: q1, Status: "acknowledged"}})
			f.PutUser(pagerduty.User{APIObject: pagerduty.APIObject{ID: "PUX" + strings.Repeat("1", i)}})
			_ = f.Incidents()
			_ = f.Calls()
			f.SetMaxOffset(10000)
		}()
	}
	wg.Wait()
	inc, _ := f.Incident(q1)
	require.Len(t, inc.Acknowledgements, 8)
}
