package monitor

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/thinktank/catobot/alerts"
)

// Directions a threshold may face.
const (
	Above = "above" // bad when the value is above the thresholds
	Below = "below" // bad when the value is below the thresholds
)

// DefaultWindow is how far back a reading looks for the newest datapoint.
const DefaultWindow = 15 * time.Minute

// DefaultPeriod is the period used when a metric names none; SageMaker,
// ElastiCache and Ray Serve publish every minute.
const DefaultPeriod = time.Minute

// MaxMetrics is CloudWatch's limit on queries in one GetMetricData call;
// the monitor reads all metrics in one call.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
const MaxMetrics = 500

// Config is the monitoring section of the config file.
type Config struct {
	// Window is how far back each reading looks; the newest datapoint in
	// it is the metric's value.
	Window time.Duration `yaml:"window"`
	// Metrics replace the runbook's key metrics when given.
	Metrics []Metric `yaml:"metrics"`
}

// Metric is one CloudWatch metric /cato status reads, with the thresholds
// it is judged by.
type Metric struct {
	// Name is the metric as people read it: "Shadow Self latency p99".
	Name       string            `yaml:"name"`
	Namespace  string            `yaml:"namespace"`
	MetricName string            `yaml:"metric_name"`
	Dimensions map[string]string `yaml:"dimensions"`
	// Stat is a CloudWatch statistic: Average, Sum, Maximum, p99, …
	Stat string `yaml:"stat"`
	// Period is the CloudWatch period; DefaultPeriod when zero.
	Period time.Duration `yaml:"period"`
	// Scale converts CloudWatch's value into Unit (0.001 turns
	// ModelLatency's microseconds into ms); 1 when zero.
	Scale float64 `yaml:"scale"`
	// Unit follows the value in messages: "ms", "%".
	Unit string `yaml:"unit"`
	// Warning and Critical are thresholds in Unit; a value strictly past
	// one, in Direction, has that severity.
	Warning  float64 `yaml:"warning"`
	Critical float64 `yaml:"critical"`
	// Direction is Above or Below.
	Direction string `yaml:"direction"`
	// Suggest is the runbook step for a bad reading, as typed after
	// /cato: "scale shadow +10".
	Suggest string `yaml:"suggest"`
	// Escalate says a bad reading should also go to the escalation team.
	Escalate bool `yaml:"escalate"`
}

// DefaultConfig returns the runbook's key metrics, read over the last 15
// minutes.
func DefaultConfig() Config {
	return Config{Window: DefaultWindow, Metrics: DefaultMetrics()}
}

// DefaultMetrics returns the runbook's "Key Metrics to Watch", with the
// thresholds, steps and escalation of the alert rules of the same metrics
// (alerts.DefaultRules), so that both read from one table:
//
//   - Shadow Self latency p99: AWS/SageMaker ModelLatency on
//     cato-shadow-self/primary, microseconds shown as ms, warning above
//     300 ms, critical above 500 ms → scale shadow +10.
//   - Cache hit rate: AWS/ElastiCache CacheHitRate, Average. ElastiCache
//     publishes it per member cluster (dimension CacheClusterId, optionally
//     CacheNodeId), never per replication group, so the default reads the
//     primary, cato-cache-production-001; add an entry per replica to
//     watch each. Warning below 75%, critical below 60% → replicas cache +1.
//   - Error rate: Cato/RayServe ErrorRate (%) on cato/cato-orchestrator,
//     warning above 0.5%, critical above 1% → rollback ray, escalate.
//   - Budget burn rate: Cato/Cost BudgetBurnRate (%), Maximum over 5
//     minutes, warning above 120%, critical above 150% → scale shadow -10,
//     escalate.
func DefaultMetrics() []Metric {
	rules := map[string]alerts.Rule{}
	for _, r := range alerts.DefaultRules() {
		rules[r.Name] = r
	}
	pair := func(name, warning, critical, stat string, dims map[string]string,
		period time.Duration) Metric {
		return fromRules(name, rules[warning], rules[critical], stat, dims, period)
	}
	return []Metric{
		pair("Shadow Self latency p99", "shadow-latency-warning", "shadow-latency-critical", "p99",
			map[string]string{"EndpointName": "cato-shadow-self", "VariantName": "primary"},
			time.Minute),
		pair("Cache hit rate", "cache-hit-rate-warning", "cache-hit-rate-critical", "Average",
			map[string]string{"CacheClusterId": "cato-cache-production-001"}, time.Minute),
		pair("Error rate", "error-rate-warning", "error-rate-critical", "Average",
			map[string]string{"Namespace": "cato", "Deployment": "cato-orchestrator"}, time.Minute),
		pair("Budget burn rate", "budget-burn-warning", "budget-burn-critical", "Maximum",
			nil, 5*time.Minute),
	}
}

// fromRules makes a metric from an alert rule pair of the same metric.
// stat applies when the rules name no statistic; dims replace the rules'
// dimensions, which may hold prefixes CloudWatch queries cannot.
func fromRules(name string, warning, critical alerts.Rule, stat string, dims map[string]string,
	period time.Duration) Metric {
	dir := Above
	if strings.HasPrefix(critical.Op, "<") {
		dir = Below
	}
	scale := critical.Scale
	if scale == 0 {
		scale = 1
	}
	return Metric{
		Name:       name,
		Namespace:  critical.Namespace,
		MetricName: critical.Metric,
		Dimensions: dims,
		Stat:       cmp.Or(critical.Statistic, stat),
		Period:     period,
		Scale:      scale,
		Unit:       strings.TrimSpace(critical.Unit),
		Warning:    warning.Threshold,
		Critical:   critical.Threshold,
		Direction:  dir,
		Suggest:    critical.Step,
		Escalate:   critical.Escalate,
	}
}

// standardStats are CloudWatch's statistics that take no argument.
var standardStats = []string{"Average", "Sum", "Minimum", "Maximum", "SampleCount", "IQM"}

// extendedStatRe matches the percentile-style statistics: p99, p99.9,
// tm90, wm99, tc90, ts90, and their range forms such as TM(10%:90%).
var extendedStatRe = regexp.MustCompile(
	`^((p|tm|wm|tc|ts)\d{1,2}(\.\d+)?|p100|(TM|WM|TC|TS|PR)\(.*\))$`)

// Validate checks c; errors name the YAML keys, as in "metrics[2].stat: …".
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.Window <= 0:
		bad("window", "must be positive, got %s", c.Window)
	case c.Window > 24*time.Hour:
		bad("window", "must be at most 24h, so that a reading is current, got %s", c.Window)
	}
	switch {
	case len(c.Metrics) == 0:
		bad("metrics", "must list at least one metric")
	case len(c.Metrics) > MaxMetrics:
		bad("metrics", "lists %d metrics; CloudWatch reads at most %d in one call",
			len(c.Metrics), MaxMetrics)
	}
	names := map[string]int{}
	for i, m := range c.Metrics {
		for _, err := range m.problems(c.Window) {
			errs = append(errs, fmt.Errorf("metrics[%d].%w", i, err))
		}
		name := strings.ToLower(strings.TrimSpace(m.Name))
		if prev, dup := names[name]; dup && name != "" {
			bad(fmt.Sprintf("metrics[%d].name", i), "%q is also the name of metrics[%d]", m.Name, prev)
		} else {
			names[name] = i
		}
	}
	return errors.Join(errs...)
}

// problems lists what is wrong with m, each error starting with the key.
func (m Metric) problems(window time.Duration) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for _, f := range []struct{ key, value string }{
		{"name", m.Name}, {"namespace", m.Namespace}, {"metric_name", m.MetricName},
	} {
		if strings.TrimSpace(f.value) == "" {
			bad(f.key, "must not be empty")
		}
	}
	if !slices.Contains(standardStats, m.Stat) && !extendedStatRe.MatchString(m.Stat) {
		bad("stat", "must be a CloudWatch statistic such as Average, Sum, Maximum or p99, not %q",
			m.Stat)
	}
	if p := m.period(); !validPeriod(p) {
		bad("period", "must be 1s, 5s, 10s, 20s, 30s or a multiple of 1m, got %s", m.Period)
	} else if p > window && window > 0 {
		bad("period", "(%s) must not be longer than window (%s)", p, window)
	}
	if !finite(m.Scale) || m.Scale < 0 {
		bad("scale", "must be a positive number (or unset for 1), not %g", m.Scale)
	}
	if !finite(m.Warning) {
		bad("warning", "must be a number")
	}
	if !finite(m.Critical) {
		bad("critical", "must be a number")
	}
	switch m.Direction {
	case Above:
		if m.Critical < m.Warning {
			bad("critical", "(%g) must not be below warning (%g) when direction is above",
				m.Critical, m.Warning)
		}
	case Below:
		if m.Critical > m.Warning {
			bad("critical", "(%g) must not be above warning (%g) when direction is below",
				m.Critical, m.Warning)
		}
	default:
		bad("direction", "must be above or below, not %q", m.Direction)
	}
	if m.Suggest != "" {
		if _, err := alerts.ParseStep(m.Suggest); err != nil {
			bad("suggest", "%v", err)
		}
	}
	for k, v := range m.Dimensions {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			bad("dimensions", "names and values must not be empty (%q: %q)", k, v)
		}
	}
	return errs
}

// validPeriod reports whether CloudWatch accepts p as a period: 1, 5, 10,
// 20 or 30 seconds for high-resolution metrics, else a multiple of 60.
func validPeriod(p time.Duration) bool {
	if p%time.Second != 0 || p <= 0 {
		return false
	}
	s := int64(p / time.Second)
	return slices.Contains([]int64{1, 5, 10, 20, 30}, s) || s%60 == 0
}

func (m Metric) period() time.Duration {
	if m.Period == 0 {
		return DefaultPeriod
	}
	return m.Period
}

func (m Metric) scale() float64 {
	if m.Scale == 0 {
		return 1
	}
	return m.Scale
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
