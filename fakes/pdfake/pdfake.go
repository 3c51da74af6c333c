// Package pdfake is a wire fake of PagerDuty's REST API v2 and Events API v2
// on loopback. It keeps incidents, their alerts and notes, users, escalation
// policies and on-calls; checks the API token and the From header the way
// PagerDuty does; changes state on acknowledge, resolve, escalate, reassign
// and notes; can answer queued replies (429s, canned pages, echoing errors);
// and records every call.
package pdfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// DefaultMaxOffset is PagerDuty's limit on offset+limit for classic
// pagination: https://developer.pagerduty.com/docs/pagination
const DefaultMaxOffset = 10000

// Users the fake knows from the start, as the cases name them.
const (
	AlexID = "PU7RIV1"
	SamID  = "PU8OKO2"
	JunID  = "PU9NAK3"
)

// Escalation policies the fake knows from the start.
const (
	CatoPolicyID          = "PEP0CAT" // "Cato ML Platform": Alex, then Sam
	ConsciousnessPolicyID = "PEP0DBA" // "consciousness-team": Jun
)

// Call is one request the fake received.
type Call struct {
	Method string
	Path   string
	Query  url.Values
	From   string // the From header
	Header http.Header
	Body   []byte
}

// Reply is a canned answer served instead of the fake's own, to requests
// matching Method and Path (empty matches any).
type Reply struct {
	Method string
	Path   string
	Status int // 200 when zero
	Header http.Header
	Body   []byte
	// EchoRequest makes the body an error that quotes the request's headers
	// and body, as a careless server might; tests use it to prove that the
	// client keeps secrets out of its errors.
	EchoRequest bool
}

// Policy is an escalation policy: Levels[i] holds the user IDs on call at
// escalation level i+1.
type Policy struct {
	ID     string
	Name   string
	Levels [][]string
}

// RoutingKey ties an Events API v2 routing key to the service and policy
// that incidents it triggers get.
type RoutingKey struct {
	Key       string
	ServiceID string
	Service   string
	PolicyID  string
}

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex
	token     string
	now       func() time.Time
	maxOffset int
	seq       int
	order     []string
	incidents map[string]*pagerduty.Incident
	alerts    map[string][]pagerduty.IncidentAlert
	notes     map[string][]pagerduty.IncidentNote
	users     []pagerduty.User
	policies  map[string]Policy
	keys      map[string]RoutingKey
	events    []pagerduty.V2Event
	replies   []queued
	calls     []Call
}

type queued struct {
	Reply
	left int
}

// New starts a fake on 127.0.0.1 that accepts token, with the cases' users
// (Alex Rivera, Sam Okafor, Jun Nakamura) and two escalation policies.
// Close it when done.
func New(token string) *Server {
	s := &Server{
		token:     token,
		now:       time.Now,
		maxOffset: DefaultMaxOffset,
		incidents: map[string]*pagerduty.Incident{},
		alerts:    map[string][]pagerduty.IncidentAlert{},
		notes:     map[string][]pagerduty.IncidentNote{},
		policies:  map[string]Policy{},
		keys:      map[string]RoutingKey{},
	}
	s.users = []pagerduty.User{
		user(AlexID, "Alex Rivera", "alex.rivera@example.com"),
		user(SamID, "Sam Okafor", "sam.okafor@example.com"),
		user(JunID, "Jun Nakamura", "jun.nakamura@example.com"),
	}
	s.policies[CatoPolicyID] = Policy{ID: CatoPolicyID, Name: "Cato ML Platform",
		Levels: [][]string{{AlexID}, {SamID}}}
	s.policies[ConsciousnessPolicyID] = Policy{ID: ConsciousnessPolicyID,
		Name: "consciousness-team", Levels: [][]string{{JunID}}}
	s.srv = httptest.NewServer(s.routes())
	return s
}

func user(id, name, email string) pagerduty.User {
	return pagerduty.User{
		APIObject: pagerduty.APIObject{ID: id, Type: "user", Summary: name,
			Self: "https://api.pagerduty.com/users/" + id},
		Name:  name,
		Email: email,
	}
}

// URL returns the base URL of both APIs (REST and /v2/enqueue).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetClock sets the time source used for timestamps.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetMaxOffset sets the offset+limit beyond which listing answers
// PagerDuty's offset limit error.
func (s *Server) SetMaxOffset(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxOffset = n
}

// SeedIncidents adds the incidents in data, which is a GET /incidents page
// ({"incidents": [...]}), a GET /incidents/{id} answer ({"incident": {...}})
// or a bare array, such as the cases' get_incident*.json files.
func (s *Server) SeedIncidents(data []byte) error {
	var doc struct {
		Incidents []pagerduty.Incident `json:"incidents"`
		Incident  *pagerduty.Incident  `json:"incident"`
	}
	var list []pagerduty.Incident
	if err := json.Unmarshal(data, &doc); err == nil {
		list = doc.Incidents
		if doc.Incident != nil {
			list = append(list, *doc.Incident)
		}
	} else if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("seed incidents: %w", err)
	}
	if len(list) == 0 {
		return fmt.Errorf("seed incidents: no incident found")
	}
	for _, inc := range list {
		s.PutIncident(inc)
	}
	return nil
}

// SeedAlerts adds the alerts in data, a GET /incidents/{id}/alerts answer
// such as the cases' get_incident_alerts_*.json, to the incidents their
// incident.id names.
func (s *Server) SeedAlerts(data []byte) error {
	var doc struct {
		Alerts []pagerduty.IncidentAlert `json:"alerts"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("seed alerts: %w", err)
	}
	if len(doc.Alerts) == 0 {
		return fmt.Errorf("seed alerts: no alert found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range doc.Alerts {
		if a.Incident.ID == "" {
			return fmt.Errorf("seed alerts: alert %s names no incident", a.ID)
		}
		s.alerts[a.Incident.ID] = append(s.alerts[a.Incident.ID], a)
	}
	return nil
}

// PutIncident adds or replaces an incident.
func (s *Server) PutIncident(inc pagerduty.Incident) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(inc)
}

func (s *Server) putLocked(inc pagerduty.Incident) {
	if _, ok := s.incidents[inc.ID]; !ok {
		s.order = append(s.order, inc.ID)
	}
	c := clone(inc)
	s.incidents[inc.ID] = &c
}

// Incident returns a copy of the incident with id.
func (s *Server) Incident(id string) (pagerduty.Incident, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.incidents[id]
	if !ok {
		return pagerduty.Incident{}, false
	}
	return clone(*inc), true
}

// Incidents returns copies of all incidents in the order they were added.
func (s *Server) Incidents() []pagerduty.Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pagerduty.Incident, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, clone(*s.incidents[id]))
	}
	return out
}

// Alerts returns copies of the incident's alerts.
func (s *Server) Alerts(incidentID string) []pagerduty.IncidentAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.alerts[incidentID])
}

// Notes returns copies of the incident's notes, oldest first.
func (s *Server) Notes(incidentID string) []pagerduty.IncidentNote {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.notes[incidentID])
}

// PutUser adds or replaces a user (matched by ID).
func (s *Server) PutUser(u pagerduty.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.users {
		if s.users[i].ID == u.ID {
			s.users[i] = u
			return
		}
	}
	s.users = append(s.users, u)
}

// RemoveUser deletes the user with id, so that their email maps to no user.
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.users {
		if s.users[i].ID == id {
			s.users = append(s.users[:i], s.users[i+1:]...)
			return
		}
	}
}

// PutPolicy adds or replaces an escalation policy; its levels say who is on
// call now.
func (s *Server) PutPolicy(p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.Levels = clone(p.Levels)
	s.policies[p.ID] = p
}

// AddRoutingKey makes the Events API accept rk.Key and open incidents on
// its service. Events for unknown keys are accepted and dropped, as
// PagerDuty does for a key of a service it does not route here.
func (s *Server) AddRoutingKey(rk RoutingKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[rk.Key] = rk
}

// Events returns the Events API v2 events accepted so far.
func (s *Server) Events() []pagerduty.V2Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.events)
}

// Queue makes the next times requests matching r answer r instead.
func (s *Server) Queue(r Reply, times int) {
	if times <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, queued{Reply: r, left: times})
}

// RateLimit makes the next n requests (any path) answer HTTP 429 with
// PagerDuty's rate limit body; retryAfter, when not empty, is sent as the
// Retry-After header.
func (s *Server) RateLimit(n int, retryAfter string) {
	h := http.Header{"Content-Type": {"application/json"}}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	s.Queue(Reply{Status: http.StatusTooManyRequests, Header: h, Body: []byte(bodyRateLimited)}, n)
}

// Calls returns copies of the calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.calls)
}

// ResetCalls forgets the calls received so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Count returns how many calls had method and path.
func (s *Server) Count(method, path string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Method == method && c.Path == path {
			n++
		}
	}
	return n
}

// record stores the call and returns a queued reply for it, if any.
func (s *Server) record(r *http.Request) (Call, *Reply) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	c := Call{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		From:   r.Header.Get("From"),
		Header: r.Header.Clone(),
		Body:   body,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	for i := range s.replies {
		q := &s.replies[i]
		if (q.Method != "" && q.Method != r.Method) || (q.Path != "" && q.Path != r.URL.Path) {
			continue
		}
		rep := q.Reply
		q.left--
		if q.left == 0 {
			s.replies = append(s.replies[:i], s.replies[i+1:]...)
		}
		return c, &rep
	}
	return c, nil
}

// serveReply writes a queued reply.
func serveReply(w http.ResponseWriter, c Call, rep *Reply) {
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	for k, v := range rep.Header {
		w.Header()[k] = v
	}
	body := rep.Body
	if rep.EchoRequest {
		body = echoBody(c)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// echoBody is an error body quoting every header and the request body.
func echoBody(c Call) []byte {
	var hs []string
	for k, v := range c.Header {
		hs = append(hs, k+": "+strings.Join(v, ","))
	}
	msg := "echo " + strings.Join(hs, "; ")
	if c.Path == "/v2/enqueue" {
		b, _ := json.Marshal(map[string]any{"status": "invalid event", "message": msg,
			"errors": []string{string(c.Body)}})
		return b
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "code": 2000,
		"errors": append(hs, string(c.Body))}})
	return b
}

// clone deep-copies v through JSON, so callers never share state.
func clone[T any](v T) T {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out
	}
	_ = json.Unmarshal(b, &out)
	return out
}
