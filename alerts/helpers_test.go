package alerts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/ledger"
)

// casesDir finds the shared test inputs: $CATOBOT_CASES, else the shared
// folder beside the repository.
func casesDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CATOBOT_CASES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "cases", "payloads")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("test cases not found at %s (set CATOBOT_CASES): %v", dir, err)
	}
	return dir
}

func readCase(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(casesDir(t), rel))
	require.NoError(t, err)
	return b
}

// pdServer is a PagerDuty REST API on loopback that answers from the case
// files: incident alerts by incident id, one incident, and incident list
// pages by offset. It records the paths it was asked for.
type pdServer struct {
	*httptest.Server

	mu     sync.Mutex
	alerts map[string][]byte // incident id -> GET /incidents/{id}/alerts body
	incs   map[string][]byte // incident id -> GET /incidents/{id} body
	pages  [][]byte          // GET /incidents pages, in order
	// fail answers the next n requests whose path starts with prefix
	// with status.
	failPrefix string
	failN      int
	failStatus int
	calls      []string
	// hold, when set, keeps alert reads waiting until it is closed.
	hold chan struct{}
}

func newPDServer(t testing.TB) *pdServer {
	s := &pdServer{alerts: map[string][]byte{}, incs: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *pdServer) setAlerts(id string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts[id] = body
}

func (s *pdServer) setIncident(id string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incs[id] = body
}

func (s *pdServer) setPages(pages ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = pages
}

func (s *pdServer) failNext(prefix string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPrefix, s.failN, s.failStatus = prefix, n, status
}

func (s *pdServer) callCount(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (s *pdServer) holdAlerts() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = make(chan struct{})
	return s.hold
}

func (s *pdServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil && strings.HasSuffix(r.URL.Path, "/alerts") {
		<-hold
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	if s.failN > 0 && strings.HasPrefix(r.URL.Path, s.failPrefix) {
		s.failN--
		w.WriteHeader(s.failStatus)
		_, _ = w.Write([]byte(`{"error":{"message":"injected","code":2001,"errors":[]}}`))
		return
	}
	if r.Header.Get("Authorization") != "Token token=test-token" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":"Unauthorized","code":2006}}`))
		return
	}

	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var body []byte
	switch {
	case len(parts) == 1 && parts[0] == "incidents":
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit := 2
		if i := off / limit; i < len(s.pages) {
			body = s.pages[i]
		} else {
			body = []byte(`{"incidents":[],"limit":2,"offset":0,"more":false}`)
		}
	case len(parts) == 2 && parts[0] == "incidents":
		body = s.incs[parts[1]]
	case len(parts) == 3 && parts[0] == "incidents" && parts[2] == "alerts":
		body = s.alerts[parts[1]]
		if body == nil {
			body = []byte(`{"alerts":[],"limit":25,"offset":0,"more":false}`)
		}
	}
	if body == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"message":"Not Found","code":2100}}`))
		return
	}
	_, _ = w.Write(body)
}

// pdClient adapts a real go-pagerduty client to the consumer interfaces,
// the way the pager package does.
type pdClient struct{ c *pagerduty.Client }

var (
	_ IncidentReader = pdClient{}
	_ IncidentLister = pdClient{}
)

func newPDClient(s *pdServer) pdClient {
	return pdClient{pagerduty.NewClient("test-token", pagerduty.WithAPIEndpoint(s.URL))}
}

func (p pdClient) Incident(ctx context.Context, id string) (pagerduty.Incident, error) {
	in, err := p.c.GetIncidentWithContext(ctx, id)
	if err != nil {
		return pagerduty.Incident{}, err
	}
	return *in, nil
}

func (p pdClient) IncidentAlerts(ctx context.Context, id string) ([]pagerduty.IncidentAlert, error) {
	var out []pagerduty.IncidentAlert
	opts := pagerduty.ListIncidentAlertsOptions{Limit: 100}
	for {
		resp, err := p.c.ListIncidentAlertsWithContext(ctx, id, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, resp.Alerts...)
		if !resp.More || len(resp.Alerts) == 0 {
			return out, nil
		}
		opts.Offset += uint(len(resp.Alerts))
	}
}

func (p pdClient) OpenIncidents(ctx context.Context, since time.Time) ([]pagerduty.Incident, error) {
	var out []pagerduty.Incident
	opts := pagerduty.ListIncidentsOptions{
		Limit:    2,
		Since:    since.UTC().Format(time.RFC3339),
		Statuses: []string{"triggered", "acknowledged"},
	}
	for {
		resp, err := p.c.ListIncidentsWithContext(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, resp.Incidents...)
		if !resp.More || len(resp.Incidents) == 0 {
			return out, nil
		}
		opts.Offset += uint(len(resp.Incidents))
	}
}

// recordingSink keeps the events it is given.
type recordingSink struct {
	mu     sync.Mutex
	events []Event
	got    chan Event
}

var _ Sink = (*recordingSink)(nil)

func newSink() *recordingSink { return &recordingSink{got: make(chan Event, 100)} }

func (s *recordingSink) HandleEvent(_ context.Context, e Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	s.got <- e
}

func (s *recordingSink) all() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// next waits for the next event; the timeout only bounds a failing test.
func (s *recordingSink) next(t testing.TB) Event {
	t.Helper()
	select {
	case e := <-s.got:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event reached the sink")
		return Event{}
	}
}

// ledgerSeen is the production dedupe: ledger.FirstSeen over memory.
func ledgerSeen() SeenFunc {
	led := ledger.New(ledger.NewMemory(), time.Hour)
	return func(ctx context.Context, id string) (bool, error) {
		return led.FirstSeen(ctx, "pagerduty", id)
	}
}

// signatures is pagerduty/webhook_v3/_signatures.json.
type signatures struct {
	Current  string `json:"secret_current"`
	Previous string `json:"secret_previous"`
	Files    map[string]struct {
		Headers  map[string]string `json:"headers"`
		Rotation string            `json:"rotation_header_value"`
		OldOnly  string            `json:"only_old_secret_header_value"`
	} `json:"files"`
	Negative map[string]string `json:"negative_cases"`
}

func loadSignatures(t testing.TB) signatures {
	t.Helper()
	var s signatures
	require.NoError(t, json.Unmarshal(readCase(t, "pagerduty/webhook_v3/_signatures.json"), &s))
	require.NotEmpty(t, s.Files)
	return s
}
