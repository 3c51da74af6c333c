package pdfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// Error bodies PagerDuty sends, as in the cases' rest/error_*.response.json.
const (
	bodyMissingFrom      = `{"error":{"message":"You must specify a user's email address in the \"From\" header to perform this action","code":2016,"errors":[]}}`
	bodyMalformedFrom    = `{"error":{"message":"Malformed \"From\" header","code":1028,"errors":[]}}`
	bodyRequesterUnknown = `{"error":{"message":"Requester User Not Found","code":1008,"errors":[]}}`
	bodyOffsetLimit      = `{"error":{"message":"Arguments Caused Error","code":2002,"errors":["Offset+limit exceeds maximum allowed value of %d. Refine the search (e.g. add a date range)."]}}`
	bodyRateLimited      = `{"error":{"message":"Rate Limit Exceeded","code":2020,"errors":[]}}`
	bodyUnauthorized     = `{"error":{"message":"Authentication failed","code":2006,"errors":[]}}`
	bodyNotFound         = `{"error":{"message":"Not Found","code":2100,"errors":[]}}`
)

// Page sizes of classic pagination: https://developer.pagerduty.com/docs/pagination
const (
	defaultLimit = 25
	maxLimit     = 100
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /incidents", s.listIncidents)
	mux.HandleFunc("GET /incidents/{id}", s.getIncident)
	mux.HandleFunc("GET /incidents/{id}/alerts", s.listAlerts)
	mux.HandleFunc("PUT /incidents", s.manageIncidents)
	mux.HandleFunc("PUT /incidents/{id}", s.updateIncident)
	mux.HandleFunc("POST /incidents/{id}/notes", s.createNote)
	mux.HandleFunc("GET /users", s.listUsers)
	mux.HandleFunc("GET /oncalls", s.listOnCalls)
	mux.HandleFunc("POST /v2/enqueue", s.enqueue)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rep := s.record(r)
		if rep != nil {
			serveReply(w, c, rep)
			return
		}
		if r.URL.Path != "/v2/enqueue" && !s.authorized(r) {
			writeRaw(w, http.StatusUnauthorized, bodyUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	return s.token != "" && (auth == "Token token="+s.token || auth == "Bearer "+s.token)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeInvalid answers PagerDuty's "Invalid Input Provided" with detail.
func writeInvalid(w http.ResponseWriter, detail string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
		"message": "Invalid Input Provided", "code": 2001, "errors": []string{detail}}})
}

// page reads offset and limit; ok is false once the error is written.
func (s *Server) page(w http.ResponseWriter, q url.Values) (offset, limit int, ok bool) {
	offset, _ = strconv.Atoi(q.Get("offset"))
	limit, _ = strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	offset = max(offset, 0)
	s.mu.Lock()
	maxOffset := s.maxOffset
	s.mu.Unlock()
	if offset+limit > maxOffset {
		writeRaw(w, http.StatusBadRequest, fmt.Sprintf(bodyOffsetLimit, maxOffset))
		return 0, 0, false
	}
	return offset, limit, true
}

// listAnswer is a classic pagination page: total is null unless asked.
func listAnswer(key string, items any, n, offset, limit int) map[string]any {
	return map[string]any{key: items, "limit": limit, "offset": offset, "total": nil,
		"more": offset+limit < n}
}

func window[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(offset+limit, len(all))]
}

// multi reads a PagerDuty array parameter, with or without brackets.
func multi(q url.Values, name string) []string {
	return append(q[name+"[]"], q[name]...)
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit, ok := s.page(w, q)
	if !ok {
		return
	}
	since, err1 := parseTime(q.Get("since"))
	until, err2 := parseTime(q.Get("until"))
	if err1 != nil || err2 != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "Invalid 'since' or 'until' Parameter Values", "code": 2004}})
		return
	}
	statuses, services := multi(q, "statuses"), multi(q, "service_ids")

	var match []pagerduty.Incident
	for _, inc := range s.Incidents() {
		if len(statuses) > 0 && !slices.Contains(statuses, inc.Status) {
			continue
		}
		if len(services) > 0 && !slices.Contains(services, inc.Service.ID) {
			continue
		}
		if created, err := time.Parse(time.RFC3339, inc.CreatedAt); err == nil {
			if (!since.IsZero() && created.Before(since)) || (!until.IsZero() && !created.Before(until)) {
				continue
			}
		}
		match = append(match, inc)
	}
	page := window(match, offset, limit)
	writeJSON(w, http.StatusOK, listAnswer("incidents", page, len(match), offset, limit))
}

func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, v)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	inc, ok := s.Incident(r.PathValue("id"))
	if !ok {
		writeRaw(w, http.StatusNotFound, bodyNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc})
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.Incident(id); !ok {
		writeRaw(w, http.StatusNotFound, bodyNotFound)
		return
	}
	offset, limit, ok := s.page(w, r.URL.Query())
	if !ok {
		return
	}
	all := s.Alerts(id)
	writeJSON(w, http.StatusOK, listAnswer("alerts", window(all, offset, limit), len(all), offset, limit))
}

// requester checks the From header like PagerDuty and returns the user;
// ok is false once the error is written.
func (s *Server) requester(w http.ResponseWriter, r *http.Request) (pagerduty.User, bool) {
	from := r.Header.Get("From")
	if from == "" {
		writeRaw(w, http.StatusBadRequest, bodyMissingFrom)
		return pagerduty.User{}, false
	}
	addr, err := mail.ParseAddress(from)
	if err != nil || addr.Name != "" || addr.Address != from {
		writeRaw(w, http.StatusBadRequest, bodyMalformedFrom)
		return pagerduty.User{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if strings.EqualFold(u.Email, from) {
			return u, true
		}
	}
	writeRaw(w, http.StatusBadRequest, bodyRequesterUnknown)
	return pagerduty.User{}, false
}

// update is one incident change in PUT /incidents and PUT /incidents/{id}.
type update struct {
	ID               string                  `json:"id"`
	Type             string                  `json:"type"`
	Status           string                  `json:"status"`
	Resolution       string                  `json:"resolution"`
	EscalationLevel  uint                    `json:"escalation_level"`
	EscalationPolicy *pagerduty.APIReference `json:"escalation_policy"`
	Assignments      []pagerduty.Assignee    `json:"assignments"`
}

func (s *Server) updateIncident(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requester(w, r)
	if !ok {
		return
	}
	var body struct {
		Incident *update `json:"incident"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Incident == nil {
		writeInvalid(w, "incident is required")
		return
	}
	inc, status, detail := s.apply(r.PathValue("id"), *body.Incident, u)
	if status != http.StatusOK {
		writeDetail(w, status, detail)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc})
}

func (s *Server) manageIncidents(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requester(w, r)
	if !ok {
		return
	}
	var body struct {
		Incidents []update `json:"incidents"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Incidents) == 0 {
		writeInvalid(w, "incidents is required")
		return
	}
	out := []pagerduty.Incident{}
	for _, up := range body.Incidents {
		inc, status, detail := s.apply(up.ID, up, u)
		if status != http.StatusOK {
			writeDetail(w, status, detail)
			return
		}
		out = append(out, inc)
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	if status == http.StatusNotFound {
		writeRaw(w, status, bodyNotFound)
		return
	}
	writeInvalid(w, detail)
}

// apply changes incident id as up asks, acting as by.
func (s *Server) apply(id string, up update, by pagerduty.User) (pagerduty.Incident, int, string) {
	if up.Type != "incident" && up.Type != "incident_reference" {
		return pagerduty.Incident{}, http.StatusBadRequest, "type must be incident or incident_reference"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.incidents[id]
	if !ok {
		return pagerduty.Incident{}, http.StatusNotFound, ""
	}
	inc := clone(*cur)
	now := s.now().UTC().Format(time.RFC3339)
	ref := pagerduty.APIObject{ID: by.ID, Type: "user_reference", Summary: by.Name, Self: by.Self}
	if inc.Status == "resolved" {
		return inc, http.StatusBadRequest, "Incident Already Resolved"
	}

	switch up.Status {
	case "":
	case "acknowledged":
		inc.Status = "acknowledged"
		ack := pagerduty.Acknowledgement{At: now, Acknowledger: ref}
		inc.Acknowledgements = append(inc.Acknowledgements, ack)
	case "resolved":
		inc.Status, inc.ResolvedAt, inc.Assignments = "resolved", now, nil
		if up.Resolution != "" {
			s.noteLocked(id, ref, up.Resolution, now)
		}
	default:
		return inc, http.StatusBadRequest, fmt.Sprintf("status %q is not allowed", up.Status)
	}

	if up.EscalationPolicy != nil {
		p, ok := s.policies[up.EscalationPolicy.ID]
		if !ok {
			return inc, http.StatusBadRequest, "Escalation Policy Not Found"
		}
		inc.EscalationPolicy = policyRef(p)
		inc.Assignments = s.assignLocked(p, 1, now)
	}
	if up.EscalationLevel != 0 {
		p := s.policies[inc.EscalationPolicy.ID]
		if int(up.EscalationLevel) > len(p.Levels) {
			return inc, http.StatusBadRequest, fmt.Sprintf(
				"Escalation level %d is beyond the escalation policy's last rule (%d)",
				up.EscalationLevel, len(p.Levels))
		}
		inc.Assignments = s.assignLocked(p, int(up.EscalationLevel), now)
	}
	if len(up.Assignments) > 0 {
		var as []pagerduty.Assignment
		for _, a := range up.Assignments {
			u, ok := s.userLocked(a.Assignee.ID)
			if !ok {
				return inc, http.StatusBadRequest, "Assignee User Not Found"
			}
			as = append(as, pagerduty.Assignment{At: now, Assignee: userRef(u)})
		}
		inc.Assignments = as
	}

	inc.UpdatedAt, inc.LastStatusChangeAt, inc.LastStatusChangeBy = now, now, ref
	s.incidents[id] = &inc
	return clone(inc), http.StatusOK, ""
}

func policyRef(p Policy) pagerduty.APIObject {
	return pagerduty.APIObject{ID: p.ID, Type: "escalation_policy_reference", Summary: p.Name}
}

func userRef(u pagerduty.User) pagerduty.APIObject {
	return pagerduty.APIObject{ID: u.ID, Type: "user_reference", Summary: u.Name, Self: u.Self}
}

func (s *Server) userLocked(id string) (pagerduty.User, bool) {
	for _, u := range s.users {
		if u.ID == id {
			return u, true
		}
	}
	return pagerduty.User{}, false
}

// assignLocked returns assignments to the users at level (1-based) of p.
func (s *Server) assignLocked(p Policy, level int, now string) []pagerduty.Assignment {
	if level < 1 || level > len(p.Levels) {
		return nil
	}
	var as []pagerduty.Assignment
	for _, id := range p.Levels[level-1] {
		if u, ok := s.userLocked(id); ok {
			as = append(as, pagerduty.Assignment{At: now, Assignee: userRef(u)})
		}
	}
	return as
}

func (s *Server) noteLocked(id string, by pagerduty.APIObject, content, now string) pagerduty.IncidentNote {
	s.seq++
	n := pagerduty.IncidentNote{ID: fmt.Sprintf("PNT%04d", s.seq), User: by, Content: content, CreatedAt: now}
	s.notes[id] = append(s.notes[id], n)
	return n
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requester(w, r)
	if !ok {
		return
	}
	var body struct {
		Note struct {
			Content string `json:"content"`
		} `json:"note"`
	}
	err := json.NewDecoder(r.Body).Decode(&body)
	if err != nil || strings.TrimSpace(body.Note.Content) == "" {
		writeInvalid(w, "Note content is required")
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.incidents[id]; !ok {
		writeRaw(w, http.StatusNotFound, bodyNotFound)
		return
	}
	n := s.noteLocked(id, userRef(u), body.Note.Content, s.now().UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusCreated, map[string]any{"note": n})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit, ok := s.page(w, q)
	if !ok {
		return
	}
	term := strings.ToLower(q.Get("query"))
	s.mu.Lock()
	var match []pagerduty.User
	for _, u := range s.users {
		email, name := strings.ToLower(u.Email), strings.ToLower(u.Name)
		if strings.Contains(email, term) || strings.Contains(name, term) {
			match = append(match, clone(u))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, listAnswer("users", window(match, offset, limit), len(match), offset, limit))
}

func (s *Server) listOnCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit, ok := s.page(w, q)
	if !ok {
		return
	}
	policyIDs, userIDs := multi(q, "escalation_policy_ids"), multi(q, "user_ids")
	s.mu.Lock()
	ids := make([]string, 0, len(s.policies))
	for id := range s.policies {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	start := s.now().UTC().Truncate(24 * time.Hour)
	var match []pagerduty.OnCall
	for _, id := range ids {
		p := s.policies[id]
		if len(policyIDs) > 0 && !slices.Contains(policyIDs, p.ID) {
			continue
		}
		for lvl, users := range p.Levels {
			for _, uid := range users {
				u, ok := s.userLocked(uid)
				if !ok || (len(userIDs) > 0 && !slices.Contains(userIDs, uid)) {
					continue
				}
				match = append(match, pagerduty.OnCall{
					User: clone(u),
					EscalationPolicy: pagerduty.EscalationPolicy{APIObject: pagerduty.APIObject{
						ID: p.ID, Type: "escalation_policy_reference", Summary: p.Name}},
					EscalationLevel: uint(lvl + 1),
					Start:           start.Format(time.RFC3339),
					End:             start.Add(7 * 24 * time.Hour).Format(time.RFC3339),
				})
			}
		}
	}
	s.mu.Unlock()
	page := window(match, offset, limit)
	writeJSON(w, http.StatusOK, listAnswer("oncalls", page, len(match), offset, limit))
}
