// Package telemetry counts what catobot does, in the Prometheus exposition
// format: socket-mode envelopes and their acks, alerts and the runbook rules
// they match, steps by component and result, and the errors Slack, AWS and
// PagerDuty answer. Metrics live on their own registry, never the global
// one, so that several bots in one process (tests, the sandbox) keep apart.
//
// The methods fit the bot's hooks as method values (Acked, StepDone), and
// the clients are instrumented where they are built: SlackHTTPClient and
// PagerDutyHTTPClient wrap an *http.Client, AWSAPIOption goes into
// aws.Config.APIOptions, and Sink wraps an alerts.Sink.
package telemetry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/thinktank/catobot/alerts"
)

// Namespace prefixes every metric name.
const Namespace = "catobot"

// Metric names, as scraped.
const (
	EnvelopesReceived = Namespace + "_envelopes_received_total"
	EnvelopesAcked    = Namespace + "_envelopes_acked_total"
	AckLatency        = Namespace + "_ack_latency_seconds"
	AlertsReceived    = Namespace + "_alerts_received_total"
	AlertsMatched     = Namespace + "_alerts_matched_total"
	Steps             = Namespace + "_steps_total"
	StepDuration      = Namespace + "_step_duration_seconds"
	SlackErrors       = Namespace + "_slack_api_errors_total"
	AWSErrors         = Namespace + "_aws_api_errors_total"
	PagerDutyErrors   = Namespace + "_pagerduty_api_errors_total"
	SocketReconnects  = Namespace + "_socket_reconnects_total"
)

// NoRule is the rule label of a triggered incident that matched no rule.
const NoRule = "none"

// Slack asks for an ack within 3 s
// (https://api.slack.com/apis/socket-mode#acknowledge), so the ack buckets
// are fine below that.
var ackBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5}

// Steps take from a second (a Kubernetes scale) to an hour (an ElastiCache
// node type change).
var stepBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// Metrics holds catobot's metrics on a registry of its own. Its methods
// are safe for concurrent use, and a nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	envelopes  *prometheus.CounterVec
	acks       *prometheus.CounterVec
	ackLatency *prometheus.HistogramVec
	alerts     *prometheus.CounterVec
	matched    *prometheus.CounterVec
	steps      *prometheus.CounterVec
	stepDur    *prometheus.HistogramVec
	slackErrs  *prometheus.CounterVec
	awsErrs    *prometheus.CounterVec
	pdErrs     *prometheus.CounterVec
	reconnects prometheus.Counter

	opened atomic.Bool // set once the first socket is opened
}

// New returns Metrics registered on a new registry, with the Go runtime
// and process collectors beside them.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		reg: reg,
		envelopes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: EnvelopesReceived,
			Help: "Socket-mode envelopes received, by envelope type."}, []string{"type"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: EnvelopesAcked,
			Help: "Socket-mode envelopes acknowledged, by envelope type."}, []string{"type"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: AckLatency,
			Help:    "Time from receiving an envelope to sending its ack, by envelope type.",
			Buckets: ackBuckets}, []string{"type"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: AlertsReceived,
			Help: "PagerDuty incident events received, by event type."}, []string{"type"}),
		matched: prometheus.NewCounterVec(prometheus.CounterOpts{Name: AlertsMatched,
			Help: `Triggered incidents by the runbook rule they matched ("none" for no rule).`},
			[]string{"rule"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Steps,
			Help: "Steps finished, by component and result."}, []string{"component", "result"}),
		stepDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: StepDuration,
			Help: "How long finished steps took, by component.", Buckets: stepBuckets},
			[]string{"component"}),
		slackErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: SlackErrors,
			Help: "Slack Web API calls that failed, by method and Slack error code."},
			[]string{"method", "error"}),
		awsErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: AWSErrors,
			Help: "AWS API calls that failed, by service, operation and error code."},
			[]string{"service", "operation", "code"}),
		pdErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: PagerDutyErrors,
			Help: "PagerDuty API calls that failed, by API and HTTP status."},
			[]string{"api", "status"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: SocketReconnects,
			Help: "Socket-mode connections opened after the first one."}),
	}
	for _, c := range []prometheus.Collector{m.envelopes, m.acks, m.ackLatency, m.alerts, m.matched,
		m.steps, m.stepDur, m.slackErrs, m.awsErrs, m.pdErrs, m.reconnects} {
		f(c)
	}
	f(prometheus.NewGoCollector())
	f(prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Gatherer returns the registry, for tests and for serving elsewhere.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the metrics in the Prometheus text format, for GET
// /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// EnvelopeReceived counts a socket-mode envelope as it arrives.
func (m *Metrics) EnvelopeReceived(envelopeType string) {
	if m == nil {
		return
	}
	m.envelopes.WithLabelValues(envelopeType).Inc()
}

// Acked counts an envelope's ack. It fits bot.Hooks.Acked.
func (m *Metrics) Acked(envelopeType string) {
	if m == nil {
		return
	}
	m.acks.WithLabelValues(envelopeType).Inc()
}

// AckedAfter counts an envelope's ack, sent d after the envelope came,
// and observes d. Wire either Acked or AckedAfter, not both.
func (m *Metrics) AckedAfter(envelopeType string, d time.Duration) {
	if m == nil {
		return
	}
	m.acks.WithLabelValues(envelopeType).Inc()
	m.ackLatency.WithLabelValues(envelopeType).Observe(d.Seconds())
}

// AlertReceived counts a PagerDuty incident event ("incident.triggered").
func (m *Metrics) AlertReceived(eventType string) {
	if m == nil {
		return
	}
	m.alerts.WithLabelValues(eventType).Inc()
}

// AlertMatched counts a triggered incident under the rule it matched, or
// NoRule when rule is "".
func (m *Metrics) AlertMatched(rule string) {
	if m == nil {
		return
	}
	if rule == "" {
		rule = NoRule
	}
	m.matched.WithLabelValues(rule).Inc()
}

// StepDone counts a finished step and observes how long it took. It fits
// bot.Hooks.StepDone.
func (m *Metrics) StepDone(component, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.steps.WithLabelValues(component, result).Inc()
	m.stepDur.WithLabelValues(component).Observe(d.Seconds())
}

// SlackError counts a failed Slack Web API call: method is "chat.update",
// code is Slack's error code or "http_<status>".
func (m *Metrics) SlackError(method, code string) {
	if m == nil {
		return
	}
	m.slackErrs.WithLabelValues(method, code).Inc()
}

// AWSError counts a failed AWS call: service is the SDK's service ID
// ("SageMaker"), code the API error code ("ThrottlingException") or
// "transport" when no answer came.
func (m *Metrics) AWSError(service, operation, code string) {
	if m == nil {
		return
	}
	m.awsErrs.WithLabelValues(service, operation, code).Inc()
}

// PagerDutyError counts a failed PagerDuty call: api is "rest" or
// "events", status the HTTP status or "transport".
func (m *Metrics) PagerDutyError(api, status string) {
	if m == nil {
		return
	}
	m.pdErrs.WithLabelValues(api, status).Inc()
}

// SocketOpened notes that a socket-mode connection was opened; every one
// after the first counts as a reconnect.
func (m *Metrics) SocketOpened() {
	if m == nil {
		return
	}
	if m.opened.Swap(true) {
		m.reconnects.Inc()
	}
}

// Sink wraps next so that every event is counted as received and every
// triggered incident under the rule it matched.
func (m *Metrics) Sink(next alerts.Sink) alerts.Sink {
	if m == nil {
		return next
	}
	return sink{m: m, next: next}
}

type sink struct {
	m    *Metrics
	next alerts.Sink
}

var _ alerts.Sink = sink{}

// HandleEvent implements alerts.Sink.
func (s sink) HandleEvent(ctx context.Context, e alerts.Event) {
	s.m.AlertReceived(e.Type)
	if e.Type == alerts.IncidentTriggered {
		rule := ""
		if e.Match != nil {
			rule = e.Match.Rule.Name
		}
		s.m.AlertMatched(rule)
	}
	s.next.HandleEvent(ctx, e)
}

// statusLabel is an HTTP status as a label, or "transport" for err.
func statusLabel(resp *http.Response, err error) string {
	if err != nil || resp == nil {
		if errors.Is(err, context.Canceled) {
			return "canceled"
		}
		return "transport"
	}
	return strconv.Itoa(resp.StatusCode)
}
