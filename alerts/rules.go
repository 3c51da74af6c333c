package alerts

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/thinktank/catobot/actions"
)

// Severities a rule may carry, PagerDuty's own scale. The runbook's
// monitoring table has warning and critical rows; its automatic-scaling
// table is a direct instruction to act, ranked between the two as error.
// Scale-downs, which only save money, are info.
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

var severityRank = map[string]int{
	SeverityCritical: 4,
	SeverityError:    3,
	SeverityWarning:  2,
	SeverityInfo:     1,
	"":               0,
}

// GPUsPerInstance is the number of GPUs on a Shadow Self instance that the
// default GPU rules assume. SageMaker's GPUUtilization sums over an
// instance's GPUs, so a 4-GPU instance reads up to 400; the rules scale it
// back to a percentage. Override the rules' scale in config for another
// instance type.
const GPUsPerInstance = 4

// Names of metric dimensions, in the order a target is written.
var dimensionOrder = []string{
	"EndpointName", "VariantName", "Namespace", "Deployment",
	"ReplicationGroupId", "CacheClusterId", "TableName", "CollectionName",
}

// DefaultRules returns the runbook's rules: the automatic-scaling table
// (Shadow Self GPU, Ray Serve requests per replica, NLI latency, ElastiCache
// memory) and the monitoring table's key metrics with their warning and
// critical thresholds.
func DefaultRules() []Rule {
	shadow := map[string]string{"EndpointName": "cato-shadow-self", "VariantName": "primary"}
	nli := map[string]string{"EndpointName": "cato-nli", "VariantName": "primary"}
	ray := map[string]string{"Namespace": "cato", "Deployment": "cato-orchestrator"}
	cacheMember := map[string]string{"CacheClusterId": "cato-cache-production-*"}
	cacheGroup := map[string]string{"ReplicationGroupId": "cato-cache-production"}
	gpu := func(name, op string, threshold float64, sev, step string) Rule {
		return Rule{
			Name: name, Namespace: "/aws/sagemaker/Endpoints", Metric: "GPUUtilization",
			Dimensions: shadow, Op: op, Threshold: threshold, Scale: 1.0 / GPUsPerInstance,
			Unit: "%", Describe: "GPU utilization", Severity: sev, Step: step,
		}
	}
	latency := func(name string, dims map[string]string, op string, threshold float64,
		sev, step string) Rule {
		return Rule{
			Name: name, Namespace: "AWS/SageMaker", Metric: "ModelLatency", Statistic: "p99",
			Dimensions: dims, Op: op, Threshold: threshold, Scale: 0.001, Unit: " ms",
			Describe: "p99 latency", Severity: sev, Step: step,
		}
	}
	ratio := func(name string, dims map[string]string, op string, threshold float64,
		sev, step string) Rule {
		return Rule{
			Name: name, Namespace: "Cato/RayServe", Metric: "RequestsPerReplica",
			Dimensions: dims, Op: op, Threshold: threshold,
			Describe: "requests per replica", Severity: sev, Step: step,
		}
	}
	memory := func(name string, dims map[string]string) Rule {
		return Rule{
			Name: name, Namespace: "AWS/ElastiCache", Metric: "DatabaseMemoryUsagePercentage",
			Dimensions: dims, Op: ">", Threshold: 80, Unit: "%", Describe: "memory",
			Severity: SeverityError, Step: "scale cache next", Approval: true,
		}
	}
	hitRate := func(name string, dims map[string]string, threshold float64, sev string) Rule {
		return Rule{
			Name: name, Namespace: "AWS/ElastiCache", Metric: "CacheHitRate",
			Dimensions: dims, Op: "<", Threshold: threshold, Unit: "%",
			Describe: "cache hit rate", Severity: sev, Step: "replicas cache +1",
		}
	}
	errorRate := func(name string, threshold float64, sev string) Rule {
		return Rule{
			Name: name, Namespace: "Cato/RayServe", Metric: "ErrorRate", Dimensions: ray,
			Op: ">", Threshold: threshold, Unit: "%", Describe: "error rate",
			Severity: sev, Step: "rollback ray", Escalate: true,
		}
	}
	burn := func(name string, threshold float64, sev string) Rule {
		return Rule{
			Name: name, Namespace: "Cato/Cost", Metric: "BudgetBurnRate",
			Op: ">", Threshold: threshold, Unit: "%", Describe: "budget burn rate",
			Severity: sev, Step: "scale shadow -10", Escalate: true,
		}
	}
	return []Rule{
		gpu("shadow-gpu-high", ">", 80, SeverityError, "scale shadow +10"),
		gpu("shadow-gpu-low", "<", 40, SeverityInfo, "scale shadow -10"),
		ratio("ray-requests-high", ray, ">", 10, SeverityError, "scale ray +5"),
		ratio("ray-requests-low", ray, "<", 3, SeverityInfo, "scale ray -5"),
		latency("nli-latency-high", nli, ">", 100, SeverityError, "scale nli +2"),
		latency("nli-latency-low", nli, "<", 50, SeverityInfo, "scale nli -2"),
		memory("cache-memory-high", cacheMember),
		memory("cache-memory-high-group", cacheGroup),
		latency("shadow-latency-critical", shadow, ">", 500, SeverityCritical, "scale shadow +10"),
		latency("shadow-latency-warning", shadow, ">", 300, SeverityWarning, "scale shadow +10"),
		hitRate("cache-hit-rate-critical", cacheMember, 60, SeverityCritical),
		hitRate("cache-hit-rate-warning", cacheMember, 75, SeverityWarning),
		hitRate("cache-hit-rate-critical-group", cacheGroup, 60, SeverityCritical),
		hitRate("cache-hit-rate-warning-group", cacheGroup, 75, SeverityWarning),
		errorRate("error-rate-critical", 1, SeverityCritical),
		errorRate("error-rate-warning", 0.5, SeverityWarning),
		burn("budget-burn-critical", 150, SeverityCritical),
		burn("budget-burn-warning", 120, SeverityWarning),
	}
}

// ParseStep parses a rule's step, written as it would be typed after
// /cato ("scale shadow +10", "rollback ray"), into a request.
func ParseStep(step string) (actions.Request, error) {
	words := strings.Fields(step)
	if len(words) < 2 {
		return actions.Request{}, fmt.Errorf("parse step %q: want a verb and a component", step)
	}
	verbs := []string{
		actions.VerbScale, actions.VerbReplicas, actions.VerbHPA,
		actions.VerbRollback, actions.VerbTier,
	}
	if !slices.Contains(verbs, words[0]) {
		return actions.Request{}, fmt.Errorf("parse step %q: unknown verb %q (known: %s)",
			step, words[0], strings.Join(verbs, ", "))
	}
	components := []string{
		actions.Shadow, actions.NLI, actions.Ray, actions.Cache,
		actions.Dynamo, actions.OpenSearch, actions.Terraform,
	}
	if !slices.Contains(components, words[1]) {
		return actions.Request{}, fmt.Errorf("parse step %q: unknown component %q (known: %s)",
			step, words[1], strings.Join(components, ", "))
	}
	req := actions.Request{Verb: words[0], Component: words[1]}
	if len(words) > 2 {
		req.Args = words[2:]
	}
	return req, nil
}

// ValidateRules checks rules as loaded from config. Each problem names the
// rule by index and the YAML key, as in "rules[3].op: …"; all problems are
// returned together.
func ValidateRules(rules []Rule) error {
	var errs []error
	bad := func(i int, key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("rules[%d].%s: %s", i, key, fmt.Sprintf(format, args...)))
	}
	names := map[string]int{}
	for i, r := range rules {
		switch prev, dup := names[r.Name]; {
		case strings.TrimSpace(r.Name) == "":
			bad(i, "name", "must not be empty")
		case dup:
			bad(i, "name", "%q is also the name of rules[%d]", r.Name, prev)
		default:
			names[r.Name] = i
		}
		if strings.TrimSpace(r.Metric) == "" {
			bad(i, "metric", "must not be empty")
		}
		if opOf(r.Op) == "" || opOf(r.Op) != r.Op {
			bad(i, "op", "must be one of >, >=, <, <=, not %q", r.Op)
		}
		if !finite(r.Threshold) {
			bad(i, "threshold", "must be a number")
		}
		if !finite(r.Scale) || r.Scale < 0 {
			bad(i, "scale", "must be a positive number (or unset for 1), not %g", r.Scale)
		}
		if _, ok := severityRank[r.Severity]; !ok {
			bad(i, "severity", "must be one of critical, error, warning, info, not %q", r.Severity)
		}
		if _, err := ParseStep(r.Step); err != nil {
			bad(i, "step", "%v", err)
		}
		for _, k := range sortedKeys(r.Dimensions) {
			v := r.Dimensions[k]
			switch {
			case strings.TrimSpace(k) == "":
				bad(i, "dimensions", "a dimension name is empty")
			case v == "" || v == "*":
				bad(i, "dimensions."+k, "must name a value or a prefix followed by *")
			case strings.Contains(strings.TrimSuffix(v, "*"), "*"):
				bad(i, "dimensions."+k, "* is allowed only at the end, not in %q", v)
			}
		}
	}
	return errors.Join(errs...)
}

// FindMatch finds the rule that alerts match best and reports whether any
// matched. An alert matches a rule when its metric and namespace are the
// rule's, it has every dimension the rule names (a value ending in "*"
// matches by prefix), its statistic is the rule's when the rule names one,
// its state is ALARM (or unknown), and its value, times the rule's scale,
// is past the threshold. When several match, the most severe rule wins
// (critical, error, warning, info); then the more specific one, naming more
// dimensions; then the alert furthest past its threshold, relative to the
// threshold; then the first in rules order. Rules whose step does not
// parse are skipped; ValidateRules reports them.
func FindMatch(rules []Rule, alerts []Alert) (*Match, bool) {
	var best *Match
	var bestKey [3]float64
	for _, a := range alerts {
		for _, r := range rules {
			v, ok := r.matches(a)
			if !ok {
				continue
			}
			req, err := ParseStep(r.Step)
			if err != nil {
				continue
			}
			key := [3]float64{
				float64(severityRank[r.Severity]),
				float64(len(r.Dimensions)),
				excess(v, r.Threshold),
			}
			if best != nil && !better(key, bestKey) {
				continue
			}
			best = &Match{Rule: r, Alert: a, Text: r.text(a, v), Request: req}
			bestKey = key
		}
	}
	return best, best != nil
}

func better(a, b [3]float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// excess is how far v is past threshold, relative to the threshold.
func excess(v, threshold float64) float64 {
	d := math.Abs(v - threshold)
	if threshold == 0 {
		return d
	}
	return d / math.Abs(threshold)
}

// matches reports whether a matches r and returns a's value in r's unit.
func (r Rule) matches(a Alert) (float64, bool) {
	if a.State != "" && !strings.EqualFold(a.State, "ALARM") {
		return 0, false
	}
	if !strings.EqualFold(a.Metric, r.Metric) || a.Metric == "" {
		return 0, false
	}
	if r.Namespace != "" && !strings.EqualFold(a.Namespace, r.Namespace) {
		return 0, false
	}
	if r.Statistic != "" && a.Statistic != "" && !strings.EqualFold(a.Statistic, r.Statistic) {
		return 0, false
	}
	for k, want := range r.Dimensions {
		got, ok := dimension(a.Dimensions, k)
		if !ok || !dimensionMatches(want, got) {
			return 0, false
		}
	}
	if !a.HasValue {
		return 0, false
	}
	v := a.Value * r.scale()
	switch r.Op {
	case ">":
		return v, v > r.Threshold
	case ">=":
		return v, v >= r.Threshold
	case "<":
		return v, v < r.Threshold
	case "<=":
		return v, v <= r.Threshold
	}
	return 0, false
}

func (r Rule) scale() float64 {
	if r.Scale == 0 {
		return 1
	}
	return r.Scale
}

func dimension(dims map[string]string, key string) (string, bool) {
	if v, ok := dims[key]; ok {
		return v, true
	}
	for k, v := range dims {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func dimensionMatches(want, got string) bool {
	if prefix, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(got, prefix)
	}
	return want == got
}

// text writes the rule in words with the alert's value: "GPU utilization
// 97.1% > 80% on cato-shadow-self/primary".
func (r Rule) text(a Alert, v float64) string {
	what := r.Describe
	if what == "" {
		what = r.Metric
	}
	s := fmt.Sprintf("%s %s%s %s %s%s", what, number(v), r.Unit, r.Op, number(r.Threshold), r.Unit)
	if t := r.target(a); t != "" {
		s += " on " + t
	}
	return s
}

// target names what the alert is about: the values of the dimensions the
// rule names, in a fixed order, else the alert's resource.
func (r Rule) target(a Alert) string {
	keys := sortedKeys(r.Dimensions)
	sort.SliceStable(keys, func(i, j int) bool { return orderOf(keys[i]) < orderOf(keys[j]) })
	var parts []string
	for _, k := range keys {
		if v, ok := dimension(a.Dimensions, k); ok && v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return a.Resource
	}
	return strings.Join(parts, "/")
}

func orderOf(key string) int {
	if i := slices.Index(dimensionOrder, key); i >= 0 {
		return i
	}
	return len(dimensionOrder)
}

// number writes v with one decimal (two below 10), without trailing zeros.
func number(v float64) string {
	prec := 1
	if math.Abs(v) < 10 {
		prec = 2
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
