package alerts

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
)

func metric(ns, name string, v float64, dims ...string) Alert {
	a := Alert{Namespace: ns, Metric: name, Value: v, HasValue: true, Dimensions: map[string]string{}}
	for i := 0; i+1 < len(dims); i += 2 {
		a.Dimensions[dims[i]] = dims[i+1]
	}
	return a
}

func TestFindMatchDefaultRules(t *testing.T) {
	shadow := []string{"EndpointName", "cato-shadow-self", "VariantName", "primary"}
	ray := []string{"Namespace", "cato", "Deployment", "cato-orchestrator"}
	member := func(n string) []string { return []string{"CacheClusterId", "cato-cache-production-" + n} }
	gpu := func(v float64, dims ...string) Alert {
		return metric("/aws/sagemaker/Endpoints", "GPUUtilization", v, dims...)
	}
	latency := func(endpoint string, micros float64, stat string) Alert {
		a := metric("AWS/SageMaker", "ModelLatency", micros, "EndpointName", endpoint, "VariantName", "primary")
		a.Statistic = stat
		return a
	}
	memory := func(v float64, dims ...string) Alert {
		return metric("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", v, dims...)
	}
	hitRate := func(v float64, dims ...string) Alert {
		return metric("AWS/ElastiCache", "CacheHitRate", v, dims...)
	}
	state := func(a Alert, s string) Alert { a.State = s; return a }
	noValue := func(a Alert) Alert { a.HasValue = false; return a }

	tests := []struct {
		name     string
		alerts   []Alert
		rule     string // "" for no match
		text     string
		step     string
		escalate bool
	}{
		{name: "gpu high", alerts: []Alert{gpu(348, shadow...)}, rule: "shadow-gpu-high",
			text: "GPU utilization 87% > 80% on cato-shadow-self/primary", step: "scale shadow +10"},
		{name: "gpu low", alerts: []Alert{gpu(100, shadow...)}, rule: "shadow-gpu-low",
			text: "GPU utilization 25% < 40% on cato-shadow-self/primary", step: "scale shadow -10"},
		{name: "gpu in between", alerts: []Alert{gpu(200, shadow...)}},
		{name: "gpu other endpoint",
			alerts: []Alert{gpu(390, "EndpointName", "other", "VariantName", "primary")}},
		{name: "gpu missing variant", alerts: []Alert{gpu(390, "EndpointName", "cato-shadow-self")}},
		{name: "ray requests high",
			alerts: []Alert{metric("Cato/RayServe", "RequestsPerReplica", 12, ray...)},
			rule:   "ray-requests-high", step: "scale ray +5",
			text: "requests per replica 12 > 10 on cato/cato-orchestrator"},
		{name: "ray requests low",
			alerts: []Alert{metric("Cato/RayServe", "RequestsPerReplica", 2.5, ray...)},
			rule:   "ray-requests-low", step: "scale ray -5",
			text: "requests per replica 2.5 < 3 on cato/cato-orchestrator"},
		{name: "nli latency high", alerts: []Alert{latency("cato-nli", 120000, "p99")},
			rule: "nli-latency-high", step: "scale nli +2",
			text: "p99 latency 120 ms > 100 ms on cato-nli/primary"},
		{name: "nli latency low", alerts: []Alert{latency("cato-nli", 40000, "p99")},
			rule: "nli-latency-low", step: "scale nli -2",
			text: "p99 latency 40 ms < 50 ms on cato-nli/primary"},
		{name: "nli average latency is not p99",
			alerts: []Alert{latency("cato-nli", 120000, "Average")}},
		{name: "shadow latency critical", alerts: []Alert{latency("cato-shadow-self", 512000, "")},
			rule: "shadow-latency-critical", step: "scale shadow +10",
			text: "p99 latency 512 ms > 500 ms on cato-shadow-self/primary"},
		{name: "shadow latency exactly 500 ms is a warning",
			alerts: []Alert{latency("cato-shadow-self", 500000, "p99")},
			rule:   "shadow-latency-warning", step: "scale shadow +10",
			text: "p99 latency 500 ms > 300 ms on cato-shadow-self/primary"},
		{name: "cache memory on a member", alerts: []Alert{memory(91.7, member("002")...)},
			rule: "cache-memory-high", step: "scale cache next",
			text: "memory 91.7% > 80% on cato-cache-production-002"},
		{name: "cache memory on the group",
			alerts: []Alert{memory(85, "ReplicationGroupId", "cato-cache-production")},
			rule:   "cache-memory-high-group", step: "scale cache next",
			text: "memory 85% > 80% on cato-cache-production"},
		{name: "cache memory on another cluster",
			alerts: []Alert{memory(95, "CacheClusterId", "cato-cache-staging-001")}},
		{name: "cache hit rate warning",
			alerts: []Alert{hitRate(70, append(member("001"), "CacheNodeId", "0001")...)},
			rule:   "cache-hit-rate-warning", step: "replicas cache +1",
			text: "cache hit rate 70% < 75% on cato-cache-production-001"},
		{name: "cache hit rate critical", alerts: []Alert{hitRate(55, member("001")...)},
			rule: "cache-hit-rate-critical", step: "replicas cache +1",
			text: "cache hit rate 55% < 60% on cato-cache-production-001"},
		{name: "critical hit rate beats memory",
			alerts: []Alert{memory(91.7, member("001")...), hitRate(55, member("002")...)},
			rule:   "cache-hit-rate-critical", step: "replicas cache +1",
			text: "cache hit rate 55% < 60% on cato-cache-production-002"},
		{name: "error rate warning", alerts: []Alert{metric("Cato/RayServe", "ErrorRate", 0.62, ray...)},
			rule: "error-rate-warning", step: "rollback ray", escalate: true,
			text: "error rate 0.62% > 0.5% on cato/cato-orchestrator"},
		{name: "error rate critical", alerts: []Alert{metric("Cato/RayServe", "ErrorRate", 1.5, ray...)},
			rule: "error-rate-critical", step: "rollback ray", escalate: true,
			text: "error rate 1.5% > 1% on cato/cato-orchestrator"},
		{name: "budget burn warning", alerts: []Alert{metric("Cato/Cost", "BudgetBurnRate", 130)},
			rule: "budget-burn-warning", step: "scale shadow -10", escalate: true,
			text: "budget burn rate 130% > 120%"},
		{name: "budget burn critical", alerts: []Alert{metric("Cato/Cost", "BudgetBurnRate", 151)},
			rule: "budget-burn-critical", step: "scale shadow -10", escalate: true,
			text: "budget burn rate 151% > 150%"},
		{name: "alarm back to OK", alerts: []Alert{state(gpu(390, shadow...), "OK")}},
		{name: "no value", alerts: []Alert{noValue(gpu(390, shadow...))}},
		{name: "unknown metric", alerts: []Alert{metric("AWS/EC2", "CPUUtilization", 99)}},
		{name: "no alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := FindMatch(DefaultRules(), tt.alerts)
			if tt.rule == "" {
				require.False(t, ok)
				require.Nil(t, m)
				return
			}
			require.True(t, ok)
			require.Equal(t, tt.rule, m.Rule.Name)
			require.Equal(t, tt.text, m.Text)
			require.Equal(t, tt.step, m.Request.String())
			require.Equal(t, tt.escalate, m.Rule.Escalate)
		})
	}
}

func TestFindMatchTieBreaks(t *testing.T) {
	rule := func(name string, threshold float64, sev string, dims map[string]string) Rule {
		return Rule{Name: name, Metric: "M", Op: ">", Threshold: threshold, Severity: sev,
			Dimensions: dims, Step: "scale ray +1"}
	}
	a := metric("", "M", 100, "A", "x", "B", "y")
	tests := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{name: "severity first", rules: []Rule{
			rule("warn", 10, SeverityWarning, map[string]string{"A": "x", "B": "y"}),
			rule("crit", 90, SeverityCritical, nil),
		}, want: "crit"},
		{name: "then more dimensions", rules: []Rule{
			rule("loose", 10, SeverityWarning, map[string]string{"A": "x"}),
			rule("tight", 90, SeverityWarning, map[string]string{"A": "x", "B": "y"}),
		}, want: "tight"},
		{name: "then further past the threshold", rules: []Rule{
			rule("near", 90, SeverityWarning, nil),
			rule("far", 10, SeverityWarning, nil),
		}, want: "far"},
		{name: "then rules order", rules: []Rule{
			rule("one", 50, SeverityWarning, map[string]string{"A": "x*"}),
			rule("two", 50, SeverityWarning, map[string]string{"A": "x"}),
		}, want: "one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := FindMatch(tt.rules, []Alert{a})
			require.True(t, ok)
			require.Equal(t, tt.want, m.Rule.Name)
		})
	}
}

func TestParseStep(t *testing.T) {
	tests := []struct {
		step    string
		want    actions.Request
		wantErr string
	}{
		{step: "scale shadow +10", want: actions.Request{Verb: "scale", Component: "shadow", Args: []string{"+10"}}},
		{step: "  rollback   ray ", want: actions.Request{Verb: "rollback", Component: "ray"}},
		{step: "replicas cache +1", want: actions.Request{Verb: "replicas", Component: "cache", Args: []string{"+1"}}},
		{step: "scale cache next", want: actions.Request{Verb: "scale", Component: "cache", Args: []string{"next"}}},
		{step: "scale", wantErr: `parse step "scale": want a verb and a component`},
		{step: "grow shadow 5", wantErr: `parse step "grow shadow 5": unknown verb "grow" (known: scale, replicas, hpa, rollback, tier)`},
		{step: "scale gpu 5", wantErr: `parse step "scale gpu 5": unknown component "gpu" (known: shadow, nli, ray, cache, dynamo, opensearch, terraform)`},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			got, err := ParseStep(tt.step)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if d := cmp.Diff(got, tt.want); d != "" {
				t.Errorf("ParseStep() (-got +want):\n%s", d)
			}
		})
	}
}

func TestValidateRules(t *testing.T) {
	require.NoError(t, ValidateRules(DefaultRules()))

	good := Rule{Name: "r", Metric: "M", Op: ">", Threshold: 1, Step: "scale ray +1"}
	with := func(f func(*Rule)) []Rule {
		r := good
		f(&r)
		return []Rule{good, r}
	}
	tests := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{name: "empty name", rules: with(func(r *Rule) { r.Name = "" }),
			want: "rules[1].name: must not be empty"},
		{name: "duplicate name", rules: with(func(r *Rule) {}),
			want: `rules[1].name: "r" is also the name of rules[0]`},
		{name: "no metric", rules: with(func(r *Rule) { r.Name, r.Metric = "s", "" }),
			want: "rules[1].metric: must not be empty"},
		{name: "bad op", rules: with(func(r *Rule) { r.Name, r.Op = "s", "GreaterThanThreshold" }),
			want: `rules[1].op: must be one of >, >=, <, <=, not "GreaterThanThreshold"`},
		{name: "nan threshold", rules: with(func(r *Rule) { r.Name, r.Threshold = "s", math.NaN() }),
			want: "rules[1].threshold: must be a number"},
		{name: "negative scale", rules: with(func(r *Rule) { r.Name, r.Scale = "s", -1 }),
			want: "rules[1].scale: must be a positive number (or unset for 1), not -1"},
		{name: "bad severity", rules: with(func(r *Rule) { r.Name, r.Severity = "s", "high" }),
			want: `rules[1].severity: must be one of critical, error, warning, info, not "high"`},
		{name: "bad step", rules: with(func(r *Rule) { r.Name, r.Step = "s", "scale gpu +1" }),
			want: `rules[1].step: parse step "scale gpu +1": unknown component "gpu" (known: shadow, nli, ray, cache, dynamo, opensearch, terraform)`},
		{name: "star alone", rules: with(func(r *Rule) {
			r.Name, r.Dimensions = "s", map[string]string{"CacheClusterId": "*"}
		}), want: "rules[1].dimensions.CacheClusterId: must name a value or a prefix followed by *"},
		{name: "star inside", rules: with(func(r *Rule) {
			r.Name, r.Dimensions = "s", map[string]string{"CacheClusterId": "cato-*-001"}
		}), want: `rules[1].dimensions.CacheClusterId: * is allowed only at the end, not in "cato-*-001"`},
		{name: "several problems", rules: with(func(r *Rule) { r.Name, r.Metric, r.Op = "", "", "=" }),
			want: "rules[1].name: must not be empty\nrules[1].metric: must not be empty\n" +
				`rules[1].op: must be one of >, >=, <, <=, not "="`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.EqualError(t, ValidateRules(tt.rules), tt.want)
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{80, "80"}, {97.125, "97.1"}, {0.5, "0.5"}, {0.626, "0.63"}, {731.204, "731.2"},
		{-0.001, "0"}, {100, "100"}, {9.999, "10"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, number(tt.in), "number(%v)", tt.in)
	}
}
