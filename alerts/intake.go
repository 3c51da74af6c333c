package alerts

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// IncidentReader reads one incident and its alerts from the PagerDuty REST
// API. The pager package implements it over go-pagerduty.
type IncidentReader interface {
	// Incident returns the incident's current state (GET /incidents/{id}).
	Incident(ctx context.Context, id string) (pagerduty.Incident, error)
	// IncidentAlerts returns every alert of the incident, following
	// pagination (GET /incidents/{id}/alerts).
	IncidentAlerts(ctx context.Context, id string) ([]pagerduty.IncidentAlert, error)
}

// IncidentLister lists the incidents that are open now (triggered or
// acknowledged) on the configured services, created since the given time,
// following pagination to the end.
type IncidentLister interface {
	OpenIncidents(ctx context.Context, since time.Time) ([]pagerduty.Incident, error)
}

// SeenFunc records a delivery's id and reports whether this is the first
// time any process has seen it, like ledger.Ledger.FirstSeen with its
// source bound.
type SeenFunc func(ctx context.Context, id string) (bool, error)

// Retry says how often a REST read is tried before the event is delivered
// without it.
type Retry struct {
	// Attempts is the number of tries; zero means 3.
	Attempts int
	// Delay is the wait before the second try, doubled for each later one;
	// zero means one second.
	Delay time.Duration
	// Retryable reports whether an error may go away on a later try. Nil
	// means: an error with a Temporary() method (go-pagerduty's APIError:
	// 429 and 5xx) says so itself; any other error, such as a transport
	// failure, is retried; a cancelled context is not.
	Retryable func(error) bool
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 3
	}
	if r.Delay <= 0 {
		r.Delay = time.Second
	}
	return r
}

// do calls f until it succeeds, fails for good, r.Attempts are spent or
// ctx ends.
func (r Retry) do(ctx context.Context, f func(context.Context) error) error {
	r = r.withDefaults()
	delay := r.Delay
	var err error
	for i := range r.Attempts {
		if i > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			case <-t.C:
			}
			delay *= 2
		}
		if err = f(ctx); err == nil || ctx.Err() != nil || !r.retryable(err) {
			return err
		}
	}
	return err
}

func (r Retry) retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if r.Retryable != nil {
		return r.Retryable(err)
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) {
		return t.Temporary()
	}
	return true
}

// enricher fetches a triggered incident's alerts and matches them.
type enricher struct {
	reader IncidentReader
	rules  []Rule
	retry  Retry
	log    *slog.Logger
}

// Messages in Event.AlertsError.
const (
	msgAlertsUnreadable = "could not read the incident's alert details from PagerDuty"
	msgNoMetric         = "the incident's alerts name no metric that a runbook rule reads"
)

// enrich fills e.Alerts and e.Match for a triggered incident. It never
// fails: when the alerts cannot be read, e.AlertsError says so.
func (en enricher) enrich(ctx context.Context, e *Event) {
	if en.reader == nil {
		e.AlertsError = msgAlertsUnreadable
		return
	}
	var ias []pagerduty.IncidentAlert
	err := en.retry.do(ctx, func(ctx context.Context) error {
		var err error
		ias, err = en.reader.IncidentAlerts(ctx, e.Incident.ID)
		return err
	})
	if err != nil {
		en.log.Warn("read incident alerts", "incident_id", e.Incident.ID, "err", err)
		e.AlertsError = msgAlertsUnreadable
		return
	}

	metrics := 0
	for _, ia := range ias {
		a, err := FromIncidentAlert(ia)
		if err != nil {
			en.log.Debug("alert without metric", "incident_id", e.Incident.ID, "alert_id", ia.ID,
				"err", err)
		} else {
			metrics++
		}
		e.Alerts = append(e.Alerts, a)
	}
	if len(ias) > 0 && metrics == 0 {
		e.AlertsError = msgNoMetric
	}
	if m, ok := FindMatch(en.rules, e.Alerts); ok {
		e.Match = m
	}
}

// refresh replaces e.Incident with the incident's current state, keeping
// what the event said when the read fails.
func (en enricher) refresh(ctx context.Context, e *Event) {
	if en.reader == nil || e.Incident.ID == "" {
		return
	}
	var in pagerduty.Incident
	err := en.retry.do(ctx, func(ctx context.Context) error {
		var err error
		in, err = en.reader.Incident(ctx, e.Incident.ID)
		return err
	})
	if err != nil {
		en.log.Warn("read incident", "incident_id", e.Incident.ID, "err", err)
		return
	}
	e.Incident = FromIncident(in)
}

// FromIncident converts a REST API incident to the card's Incident.
func FromIncident(in pagerduty.Incident) Incident {
	out := Incident{
		ID:          in.ID,
		Number:      int(in.IncidentNumber),
		Title:       first(in.Title, in.Summary),
		Status:      in.Status,
		Urgency:     in.Urgency,
		URL:         in.HTMLURL,
		Service:     in.Service.Summary,
		ServiceID:   in.Service.ID,
		Policy:      in.EscalationPolicy.Summary,
		PolicyID:    in.EscalationPolicy.ID,
		CreatedAt:   in.CreatedAt,
		IncidentKey: in.IncidentKey,
	}
	for _, as := range in.Assignments {
		out.Assignees = append(out.Assignees, first(as.Assignee.Summary, as.Assignee.ID))
	}
	if in.Priority != nil {
		out.Priority = first(in.Priority.Summary, in.Priority.Name)
	}
	return out
}
