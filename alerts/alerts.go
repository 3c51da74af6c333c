// Package alerts turns PagerDuty incidents into events the bot acts on: it
// verifies and deduplicates webhooks v3, polls the REST API where there is
// no ingress, reads each incident's alert details and matches them to the
// runbook's rules.
package alerts

import (
	"context"
	"time"

	"github.com/thinktank/catobot/actions"
)

// Event types the bot handles, as PagerDuty webhooks v3 name them.
const (
	IncidentTriggered      = "incident.triggered"
	IncidentAcknowledged   = "incident.acknowledged"
	IncidentUnacknowledged = "incident.unacknowledged"
	IncidentEscalated      = "incident.escalated"
	IncidentReassigned     = "incident.reassigned"
	IncidentAnnotated      = "incident.annotated"
	IncidentResolved       = "incident.resolved"
)

// Incident is a PagerDuty incident as a card shows it.
type Incident struct {
	ID          string   `json:"id"`
	Number      int      `json:"number"`
	Title       string   `json:"title"`
	Status      string   `json:"status"` // triggered, acknowledged, resolved
	Urgency     string   `json:"urgency"`
	URL         string   `json:"url"`
	Service     string   `json:"service"`
	ServiceID   string   `json:"service_id"`
	Assignees   []string `json:"assignees,omitempty"`
	Policy      string   `json:"escalation_policy,omitempty"`
	PolicyID    string   `json:"escalation_policy_id,omitempty"`
	CreatedAt   string   `json:"created_at,omitempty"`
	Priority    string   `json:"priority,omitempty"`
	IncidentKey string   `json:"incident_key,omitempty"`
}

// Event is one thing that happened to an incident.
type Event struct {
	// ID is the delivery's event id, used to drop repeats.
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Incident Incident `json:"incident"`
	// Agent is who caused the event ("Alex Rivera"), or "" when PagerDuty
	// did it by itself.
	Agent string `json:"agent,omitempty"`
	// Note is an annotation's text.
	Note string `json:"note,omitempty"`
	// Alerts are the incident's alert details, fetched for triggered
	// incidents.
	Alerts []Alert `json:"alerts,omitempty"`
	// Match is the runbook rule the alerts matched, if any.
	Match *Match `json:"match,omitempty"`
	// AlertsError says, in plain words, why Alerts is empty or incomplete
	// when the alert details could not be read; the event is delivered
	// anyway.
	AlertsError string `json:"alerts_error,omitempty"`
	// OccurredAt is when PagerDuty says the event happened (RFC 3339), so
	// that a late delivery can be told from a newer one.
	OccurredAt string `json:"occurred_at,omitempty"`
	// Source says how the event arrived: "webhook" or "poll".
	Source string `json:"source,omitempty"`
}

// Alert is the part of an alert that rules read: a CloudWatch alarm's
// metric, dimensions and value, or an Events API v2 event's custom details.
type Alert struct {
	ID         string            `json:"id"`
	Summary    string            `json:"summary"`
	AlarmName  string            `json:"alarm_name,omitempty"`
	Namespace  string            `json:"namespace,omitempty"`
	Metric     string            `json:"metric,omitempty"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	// Value is the metric's value in its own unit, as the alarm reports it.
	Value     float64 `json:"value"`
	HasValue  bool    `json:"has_value"`
	Threshold float64 `json:"threshold,omitempty"`
	Region    string  `json:"region,omitempty"`
	// Resource is a resource name from custom details, e.g.
	// "cato-cache-production".
	Resource string `json:"resource,omitempty"`
	// Statistic is the alarm's statistic: "p99", "Average", "Maximum".
	Statistic string `json:"statistic,omitempty"`
	// Unit is the metric's unit as CloudWatch names it: "Microseconds",
	// "Percent".
	Unit string `json:"unit,omitempty"`
	// Op is the alarm's own comparison, ">" or "<" (or ">=", "<="), when
	// it says one.
	Op string `json:"op,omitempty"`
	// State is the alarm's new state (ALARM, OK, INSUFFICIENT_DATA) when
	// the details say one. Only ALARM, or no state at all, matches rules.
	State string `json:"state,omitempty"`
	// StateChangeTime is when the alarm changed state.
	StateChangeTime time.Time `json:"state_change_time,omitzero"`
	// Details are the raw custom details.
	Details map[string]any `json:"details,omitempty"`
}

// Rule is one runbook trigger: a metric crossing a threshold suggests a step.
type Rule struct {
	Name      string `yaml:"name" json:"name"`
	Namespace string `yaml:"namespace" json:"namespace"`
	Metric    string `yaml:"metric" json:"metric"`
	// Dimensions must all be present on the alert with these values. A
	// value ending in "*" matches any value that starts with the rest, so
	// "cato-cache-production-*" matches the group's -001 and -002 members.
	Dimensions map[string]string `yaml:"dimensions,omitempty" json:"dimensions,omitempty"`
	// Op is ">", ">=", "<" or "<=".
	Op        string  `yaml:"op" json:"op"`
	Threshold float64 `yaml:"threshold" json:"threshold"`
	// Scale converts the metric's unit to the threshold's, e.g. 0.001 for
	// ModelLatency in microseconds against milliseconds.
	Scale float64 `yaml:"scale,omitempty" json:"scale,omitempty"`
	// Unit is shown after numbers: "%", " ms", " requests/replica".
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
	// Describe names the metric in words: "GPU utilization".
	Describe string `yaml:"describe" json:"describe"`
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
	// Step is what to suggest, as typed after /cato: "scale shadow +10".
	Step string `yaml:"step" json:"step"`
	// Escalate suggests escalating to the team as well.
	Escalate bool `yaml:"escalate,omitempty" json:"escalate,omitempty"`
	// Statistic, when set, limits the rule to alarms on that statistic
	// ("p99"); alerts that name no statistic still match.
	Statistic string `yaml:"statistic,omitempty" json:"statistic,omitempty"`
	// Approval says the suggested step needs a second person's approval,
	// for example because it causes downtime.
	Approval bool `yaml:"approval,omitempty" json:"approval,omitempty"`
}

// Match is a rule matched by an alert.
type Match struct {
	Rule  Rule  `json:"rule"`
	Alert Alert `json:"alert"`
	// Text is the rule in words with the alarm's value:
	// "GPU utilization 87% > 80% on cato-shadow-self/primary".
	Text    string          `json:"text"`
	Request actions.Request `json:"request"`
}

// Sink receives events after they are verified, deduplicated and enriched.
// HandleEvent must not block the caller for long.
type Sink interface {
	HandleEvent(ctx context.Context, e Event)
}
