package pdfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// severities the Events API v2 accepts:
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
var severities = []string{"critical", "error", "warning", "info"}

func writeEventError(w http.ResponseWriter, errs ...string) {
	writeJSON(w, http.StatusBadRequest, pagerduty.V2EventResponse{
		Status: "invalid event", Message: "Event object is invalid", Errors: errs})
}

// enqueue handles POST /v2/enqueue: trigger opens an incident (or joins the
// open one with the same dedup key), acknowledge and resolve change it.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request) {
	var ev pagerduty.V2Event
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		writeEventError(w, "Event object is not valid JSON")
		return
	}
	if ev.RoutingKey == "" {
		writeEventError(w, "'routing_key' is missing or blank")
		return
	}
	switch ev.Action {
	case "trigger":
		if ev.Payload == nil || ev.Payload.Summary == "" || ev.Payload.Source == "" {
			writeEventError(w, "'payload.summary' and 'payload.source' are required")
			return
		}
		if !slices.Contains(severities, ev.Payload.Severity) {
			writeEventError(w, "'payload.severity' is invalid (must be one of: critical, error, warning, info)")
			return
		}
	case "acknowledge", "resolve":
		if ev.DedupKey == "" {
			writeEventError(w, "'dedup_key' is required for "+ev.Action)
			return
		}
	default:
		writeEventError(w, "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.DedupKey == "" {
		s.seq++
		ev.DedupKey = fmt.Sprintf("pdfake-%06d", s.seq)
	}
	s.events = append(s.events, clone(ev))
	if rk, ok := s.keys[ev.RoutingKey]; ok {
		s.eventLocked(rk, ev)
	}
	writeJSON(w, http.StatusAccepted, pagerduty.V2EventResponse{
		Status: "success", Message: "Event processed", DedupKey: ev.DedupKey})
}

// eventLocked applies an accepted event to the incidents of rk's service.
func (s *Server) eventLocked(rk RoutingKey, ev pagerduty.V2Event) {
	now := s.now().UTC().Format(time.RFC3339)
	var open *pagerduty.Incident
	for _, id := range s.order {
		inc := s.incidents[id]
		if inc.IncidentKey == ev.DedupKey && inc.Service.ID == rk.ServiceID && inc.Status != "resolved" {
			open = inc
		}
	}
	switch {
	case ev.Action == "trigger" && open == nil:
		s.triggerLocked(rk, ev, now)
	case ev.Action == "acknowledge" && open != nil:
		open.Status, open.UpdatedAt, open.LastStatusChangeAt = "acknowledged", now, now
	case ev.Action == "resolve" && open != nil:
		open.Status, open.ResolvedAt, open.Assignments = "resolved", now, nil
		open.UpdatedAt, open.LastStatusChangeAt = now, now
	}
}

func (s *Server) triggerLocked(rk RoutingKey, ev pagerduty.V2Event, now string) {
	s.seq++
	id := fmt.Sprintf("QFAKE%06d", s.seq)
	p := s.policies[rk.PolicyID]
	inc := pagerduty.Incident{
		APIObject: pagerduty.APIObject{ID: id, Type: "incident",
			Summary: fmt.Sprintf("[#%d] %s", 5000+s.seq, ev.Payload.Summary),
			Self:    "https://api.pagerduty.com/incidents/" + id},
		IncidentNumber:     uint(5000 + s.seq),
		Title:              ev.Payload.Summary,
		CreatedAt:          now,
		UpdatedAt:          now,
		LastStatusChangeAt: now,
		Status:             "triggered",
		Urgency:            "high",
		IncidentKey:        ev.DedupKey,
		Service:            serviceRef(rk),
		EscalationPolicy:   policyRef(p),
		Assignments:        s.assignLocked(p, 1, now),
		AlertCounts:        pagerduty.AlertCounts{All: 1, Triggered: 1},
		AssignedVia:        "escalation_policy",
	}
	s.putLocked(inc)
	details := map[string]any{}
	if m, ok := ev.Payload.Details.(map[string]any); ok {
		details = m
	}
	s.alerts[id] = append(s.alerts[id], pagerduty.IncidentAlert{
		APIObject: pagerduty.APIObject{ID: fmt.Sprintf("AFAKE%06d", s.seq), Type: "alert",
			Summary: ev.Payload.Summary},
		CreatedAt: now,
		Status:    "triggered",
		AlertKey:  ev.DedupKey,
		Service:   inc.Service,
		Incident:  pagerduty.APIReference{ID: id, Type: "incident_reference"},
		Severity:  ev.Payload.Severity,
		Body: map[string]any{"type": "alert_body", "details": details, "cef_details": map[string]any{
			"dedup_key": ev.DedupKey, "description": ev.Payload.Summary, "details": details,
			"severity": ev.Payload.Severity, "source_component": ev.Payload.Component,
			"source_origin": ev.Payload.Source}},
	})
}

func serviceRef(rk RoutingKey) pagerduty.APIObject {
	return pagerduty.APIObject{ID: rk.ServiceID, Type: "service_reference", Summary: rk.Service}
}
