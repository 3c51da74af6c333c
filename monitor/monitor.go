// Package monitor reads the runbook's key metrics from CloudWatch for
// /cato status and judges each against its warning and critical
// thresholds. It only reads: one GetMetricData call per Read, for all
// metrics at once.
package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/alerts"
)

// Severities of a reading. Warning and critical are the alert rules' own
// words.
const (
	SeverityOK       = "ok"
	SeverityWarning  = alerts.SeverityWarning
	SeverityCritical = alerts.SeverityCritical
	SeverityNoData   = "no data"
)

// API is the part of the CloudWatch client the monitor uses.
type API interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput,
		optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var _ API = (*cloudwatch.Client)(nil)

// Options tune a Monitor.
type Options struct {
	// DryRun is accepted for symmetry with the actions; the monitor only
	// reads, so it changes nothing.
	DryRun bool
	Logger *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Monitor reads metrics from CloudWatch. It is safe for concurrent use.
type Monitor struct {
	cfg     Config
	client  API
	log     *slog.Logger
	now     func() time.Time
	queries []types.MetricDataQuery
}

// Reading is one metric's newest value and how it stands against the
// metric's thresholds.
type Reading struct {
	Metric Metric
	// Value is the newest datapoint in the window, already scaled into
	// Metric.Unit; meaningful only when HasValue.
	Value    float64
	HasValue bool
	// Time is the newest datapoint's timestamp.
	Time time.Time
	// Severity is SeverityOK, SeverityWarning, SeverityCritical or
	// SeverityNoData.
	Severity string
	// Text is the reading in words: "Shadow Self latency p99: 512 ms —
	// critical (> 500 ms)".
	Text string
}

// Suggestion returns the runbook step a warning or critical reading
// suggests, and reports whether there is one.
func (r Reading) Suggestion() (actions.Request, bool) {
	if r.Severity != SeverityWarning && r.Severity != SeverityCritical || r.Metric.Suggest == "" {
		return actions.Request{}, false
	}
	req, err := alerts.ParseStep(r.Metric.Suggest)
	return req, err == nil
}

// New returns a monitor for cfg's metrics, read through client. It
// returns cfg's validation errors.
func New(cfg Config, client API, opts Options) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("monitoring config: %w", err)
	}
	if client == nil {
		return nil, fmt.Errorf("monitoring: no CloudWatch client")
	}
	cfg.Metrics = slices.Clone(cfg.Metrics)
	for i := range cfg.Metrics {
		cfg.Metrics[i].Dimensions = maps.Clone(cfg.Metrics[i].Dimensions)
	}
	m := &Monitor{cfg: cfg, client: client, log: opts.Logger, now: opts.Now}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	for i, mt := range cfg.Metrics {
		m.queries = append(m.queries, query(queryID(i), mt))
	}
	return m, nil
}

// Metrics returns the metrics the monitor reads, in order.
func (m *Monitor) Metrics() []Metric { return slices.Clone(m.cfg.Metrics) }

// queryID is the GetMetricData query id of the i-th metric.
func queryID(i int) string { return "m" + strconv.Itoa(i) }

func query(id string, mt Metric) types.MetricDataQuery {
	var dims []types.Dimension
	for _, k := range slices.Sorted(maps.Keys(mt.Dimensions)) {
		dims = append(dims, types.Dimension{Name: aws.String(k), Value: aws.String(mt.Dimensions[k])})
	}
	return types.MetricDataQuery{
		Id:         aws.String(id),
		Label:      aws.String(mt.Name),
		ReturnData: aws.Bool(true),
		MetricStat: &types.MetricStat{
			Metric: &types.Metric{
				Namespace:  aws.String(mt.Namespace),
				MetricName: aws.String(mt.MetricName),
				Dimensions: dims,
			},
			Period: aws.Int32(int32(mt.period() / time.Second)),
			Stat:   aws.String(mt.Stat),
		},
	}
}

// Read reads every metric's newest datapoint of the last window in one
// GetMetricData call and judges it. A metric with no datapoint reads as
// SeverityNoData; only a failure of the whole call is an error, an
// *actions.Error in plain words.
func (m *Monitor) Read(ctx context.Context) ([]Reading, error) {
	end := m.now().UTC().Truncate(time.Minute)
	start := end.Add(-m.cfg.Window)
	out, err := m.client.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime:         aws.Time(start),
		EndTime:           aws.Time(end),
		ScanBy:            types.ScanByTimestampDescending,
		MetricDataQueries: m.queries,
	})
	if err != nil {
		return nil, apiError(err)
	}
	for _, msg := range out.Messages {
		m.log.Warn("cloudwatch message", "code", aws.ToString(msg.Code),
			"message", aws.ToString(msg.Value))
	}

	results := map[string][]types.MetricDataResult{}
	for _, r := range out.MetricDataResults {
		id := aws.ToString(r.Id)
		results[id] = append(results[id], r)
	}
	readings := make([]Reading, len(m.cfg.Metrics))
	for i, mt := range m.cfg.Metrics {
		readings[i] = m.judge(mt, results[queryID(i)])
	}
	m.log.Debug("metrics read", "metrics", len(readings), "start", start, "end", end)
	return readings, nil
}

// judge turns a metric's results into a reading of its newest datapoint.
func (m *Monitor) judge(mt Metric, results []types.MetricDataResult) Reading {
	r := Reading{Metric: mt}
	status := types.StatusCodeComplete
	for _, res := range results {
		if res.StatusCode != "" && res.StatusCode != types.StatusCodeComplete {
			status = res.StatusCode
		}
		for j := range min(len(res.Timestamps), len(res.Values)) {
			if !r.HasValue || res.Timestamps[j].After(r.Time) {
				r.Value, r.Time, r.HasValue = res.Values[j], res.Timestamps[j], true
			}
		}
	}
	if !r.HasValue {
		r.Severity = SeverityNoData
		r.Text = fmt.Sprintf("%s: no data in the last %s", mt.Name, words(m.cfg.Window))
		switch status {
		case types.StatusCodeForbidden:
			r.Text += " (CloudWatch refused access to this metric)"
		case types.StatusCodeInternalError:
			r.Text += " (CloudWatch had an internal error reading it)"
		}
		m.log.Debug("metric has no data", "metric", mt.Name, "status", string(status))
		return r
	}
	r.Value *= mt.scale()
	r.Severity = mt.Severity(r.Value)
	r.Text = mt.describe(r.Value, r.Severity)
	return r
}

// Severity judges a value already in m's unit: SeverityCritical when it is
// strictly past Critical in m's direction, else SeverityWarning when past
// Warning, else SeverityOK.
func (m Metric) Severity(v float64) string {
	past := func(threshold float64) bool {
		if m.Direction == Below {
			return v < threshold
		}
		return v > threshold
	}
	switch {
	case past(m.Critical):
		return SeverityCritical
	case past(m.Warning):
		return SeverityWarning
	}
	return SeverityOK
}

// describe writes a reading: "Cache hit rate: 58% — critical (< 60%)",
// or for an ok value the warning threshold it is measured against.
func (m Metric) describe(v float64, severity string) string {
	op := ">"
	if m.Direction == Below {
		op = "<"
	}
	s := fmt.Sprintf("%s: %s — %s", m.Name, m.quantity(v), severity)
	switch severity {
	case SeverityCritical:
		return s + fmt.Sprintf(" (%s %s)", op, m.quantity(m.Critical))
	case SeverityWarning:
		return s + fmt.Sprintf(" (%s %s)", op, m.quantity(m.Warning))
	}
	return s + fmt.Sprintf(" (warning %s %s)", op, m.quantity(m.Warning))
}

// quantity writes v with m's unit: "512 ms", "72.5%".
func (m Metric) quantity(v float64) string {
	switch m.Unit {
	case "":
		return number(v)
	case "%":
		return number(v) + "%"
	}
	return number(v) + " " + m.Unit
}

// number writes v with one decimal (two below 10), without trailing zeros.
func number(v float64) string {
	prec := 1
	if math.Abs(v) < 10 {
		prec = 2
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// words writes a window as people say it: "15 minutes", "1 hour".
func words(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}
