package monitor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/fakes/cloudwatchfake"
	"github.com/thinktank/catobot/internal/awstest"
)

// now is the test clock: reads cover 16:15–16:30 UTC.
var now = time.Date(2026, 12, 4, 16, 30, 20, 0, time.UTC)

var (
	shadowDims = map[string]string{"EndpointName": "cato-shadow-self", "VariantName": "primary"}
	cacheDims  = map[string]string{"CacheClusterId": "cato-cache-production-001"}
	rayDims    = map[string]string{"Namespace": "cato", "Deployment": "cato-orchestrator"}
)

func TestMain(m *testing.M) {
	// Credentials are static, but nothing may fall back to instance metadata.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// newClient returns a real CloudWatch client aimed at url, retrying once
// with no backoff.
func newClient(url string) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(awstest.Config(url, awstest.Attempts(2)))
}

// newFixture starts a CloudWatch fake and a monitor of the default
// metrics against it.
func newFixture(t *testing.T) (*cloudwatchfake.Fake, *Monitor) {
	t.Helper()
	fake := cloudwatchfake.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	m, err := New(DefaultConfig(), newClient(srv.URL), Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	return fake, m
}

func TestDefaultMetricsAreTheRunbooks(t *testing.T) {
	want := []Metric{
		{
			Name: "Shadow Self latency p99", Namespace: "AWS/SageMaker", MetricName: "ModelLatency",
			Dimensions: shadowDims, Stat: "p99", Period: time.Minute, Scale: 0.001, Unit: "ms",
			Warning: 300, Critical: 500, Direction: Above, Suggest: "scale shadow +10",
		},
		{
			Name: "Cache hit rate", Namespace: "AWS/ElastiCache", MetricName: "CacheHitRate",
			Dimensions: cacheDims, Stat: "Average", Period: time.Minute, Scale: 1, Unit: "%",
			Warning: 75, Critical: 60, Direction: Below, Suggest: "replicas cache +1",
		},
		{
			Name: "Error rate", Namespace: "Cato/RayServe", MetricName: "ErrorRate",
			Dimensions: rayDims, Stat: "Average", Period: time.Minute, Scale: 1, Unit: "%",
			Warning: 0.5, Critical: 1, Direction: Above, Suggest: "rollback ray", Escalate: true,
		},
		{
			Name: "Budget burn rate", Namespace: "Cato/Cost", MetricName: "BudgetBurnRate",
			Stat: "Maximum", Period: 5 * time.Minute, Scale: 1, Unit: "%",
			Warning: 120, Critical: 150, Direction: Above, Suggest: "scale shadow -10", Escalate: true,
		},
	}
	if diff := cmp.Diff(DefaultMetrics(), want); diff != "" {
		t.Fatalf("DefaultMetrics() (-got +want):\n%s", diff)
	}
	require.NoError(t, DefaultConfig().Validate())
}

func TestReadSeverityAtEachEdge(t *testing.T) {
	tests := []struct {
		name     string
		metric   int // index in DefaultMetrics
		raw      float64
		severity string
		text     string
	}{
		{"latency well below", 0, 120_000, SeverityOK,
			"Shadow Self latency p99: 120 ms — ok (warning > 300 ms)"},
		{"latency at warning", 0, 300_000, SeverityOK,
			"Shadow Self latency p99: 300 ms — ok (warning > 300 ms)"},
		{"latency past warning", 0, 300_500, SeverityWarning,
			"Shadow Self latency p99: 300.5 ms — warning (> 300 ms)"},
		{"latency at critical", 0, 500_000, SeverityWarning,
			"Shadow Self latency p99: 500 ms — warning (> 300 ms)"},
		{"latency past critical", 0, 512_000, SeverityCritical,
			"Shadow Self latency p99: 512 ms — critical (> 500 ms)"},
		{"hit rate at warning", 1, 75, SeverityOK, "Cache hit rate: 75% — ok (warning < 75%)"},
		{"hit rate below warning", 1, 74.9, SeverityWarning,
			"Cache hit rate: 74.9% — warning (< 75%)"},
		{"hit rate at critical", 1, 60, SeverityWarning, "Cache hit rate: 60% — warning (< 75%)"},
		{"hit rate below critical", 1, 58, SeverityCritical, "Cache hit rate: 58% — critical (< 60%)"},
		{"error rate at warning", 2, 0.5, SeverityOK, "Error rate: 0.5% — ok (warning > 0.5%)"},
		{"error rate past warning", 2, 0.51, SeverityWarning,
			"Error rate: 0.51% — warning (> 0.5%)"},
		{"error rate at critical", 2, 1, SeverityWarning, "Error rate: 1% — warning (> 0.5%)"},
		{"error rate past critical", 2, 1.25, SeverityCritical,
			"Error rate: 1.25% — critical (> 1%)"},
		{"burn at warning", 3, 120, SeverityOK, "Budget burn rate: 120% — ok (warning > 120%)"},
		{"burn past warning", 3, 120.5, SeverityWarning,
			"Budget burn rate: 120.5% — warning (> 120%)"},
		{"burn at critical", 3, 150, SeverityWarning, "Budget burn rate: 150% — warning (> 120%)"},
		{"burn past critical", 3, 151, SeverityCritical,
			"Budget burn rate: 151% — critical (> 150%)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, m := newFixture(t)
			mt := DefaultMetrics()[tt.metric]
			fake.SetValue(mt.Namespace, mt.MetricName, mt.Dimensions, tt.raw)

			readings, err := m.Read(context.Background())
			require.NoError(t, err)
			require.Len(t, readings, 4)
			got := readings[tt.metric]
			require.True(t, got.HasValue)
			require.Equal(t, tt.severity, got.Severity)
			require.Equal(t, tt.text, got.Text)
			require.InDelta(t, tt.raw*mt.scale(), got.Value, 1e-9)
			for i, r := range readings {
				if i != tt.metric {
					require.Equal(t, SeverityNoData, r.Severity, "reading %d", i)
				}
			}
		})
	}
}

func TestReadNoData(t *testing.T) {
	_, m := newFixture(t)

	readings, err := m.Read(context.Background())
	require.NoError(t, err)
	var texts []string
	for _, r := range readings {
		require.False(t, r.HasValue)
		require.Equal(t, SeverityNoData, r.Severity)
		_, ok := r.Suggestion()
		require.False(t, ok)
		texts = append(texts, r.Text)
	}
	want := []string{
		"Shadow Self latency p99: no data in the last 15 minutes",
		"Cache hit rate: no data in the last 15 minutes",
		"Error rate: no data in the last 15 minutes",
		"Budget burn rate: no data in the last 15 minutes",
	}
	if diff := cmp.Diff(texts, want); diff != "" {
		t.Fatalf("texts (-got +want):\n%s", diff)
	}
}

func TestReadResultStatus(t *testing.T) {
	tests := []struct {
		name   string
		status string
		text   string
	}{
		{"forbidden", cloudwatchfake.StatusForbidden,
			"Error rate: no data in the last 15 minutes (CloudWatch refused access to this metric)"},
		{"internal error", cloudwatchfake.StatusInternalError,
			"Error rate: no data in the last 15 minutes (CloudWatch had an internal error reading it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, m := newFixture(t)
			fake.SetValue("Cato/RayServe", "ErrorRate", rayDims, 3)
			fake.SetStatus("Cato/RayServe", "ErrorRate", rayDims, tt.status)

			readings, err := m.Read(context.Background())
			require.NoError(t, err)
			require.Equal(t, SeverityNoData, readings[2].Severity)
			require.Equal(t, tt.text, readings[2].Text)
		})
	}
}

func TestReadTakesNewestDatapoint(t *testing.T) {
	fake, m := newFixture(t)
	at := func(hh, mm int) time.Time { return time.Date(2026, 12, 4, hh, mm, 0, 0, time.UTC) }
	fake.SetSeries("AWS/SageMaker", "ModelLatency", shadowDims,
		cloudwatchfake.Point{Time: at(16, 20), Value: 100_000},
		cloudwatchfake.Point{Time: at(16, 28), Value: 520_000}, // newest in the window
		cloudwatchfake.Point{Time: at(16, 24), Value: 200_000},
		cloudwatchfake.Point{Time: at(16, 30), Value: 900_000}, // at the end: outside
		cloudwatchfake.Point{Time: at(16, 10), Value: 950_000}, // before the start: outside
	)

	readings, err := m.Read(context.Background())
	require.NoError(t, err)
	got := readings[0]
	require.InDelta(t, 520.0, got.Value, 1e-9)
	require.Equal(t, at(16, 28), got.Time.UTC())
	require.Equal(t, SeverityCritical, got.Severity)
	req, ok := got.Suggestion()
	require.True(t, ok)
	require.Equal(t, actions.Request{Verb: "scale", Component: "shadow", Args: []string{"+10"}}, req)
}

func TestReadMakesOneCallForAllMetrics(t *testing.T) {
	fake, m := newFixture(t)
	fake.SetValue("AWS/SageMaker", "ModelLatency", shadowDims, 250_000)
	fake.SetValue("AWS/ElastiCache", "CacheHitRate", cacheDims, 90)
	fake.SetValue("Cato/RayServe", "ErrorRate", rayDims, 0.1)
	fake.SetValue("Cato/Cost", "BudgetBurnRate", nil, 95)

	readings, err := m.Read(context.Background())
	require.NoError(t, err)
	for _, r := range readings {
		require.Equal(t, SeverityOK, r.Severity, r.Text)
	}

	calls := fake.Recorder.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, "monitoring", calls[0].Service)
	require.Equal(t, cloudwatchfake.OpGetMetricData, calls[0].Op)
	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	require.Equal(t, time.Date(2026, 12, 4, 16, 15, 0, 0, time.UTC), got.Start.UTC())
	require.Equal(t, time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC), got.End.UTC())
	require.Equal(t, "TimestampDescending", got.ScanBy)
	want := []cloudwatchfake.Query{
		{ID: "m0", Namespace: "AWS/SageMaker", MetricName: "ModelLatency", Dimensions: shadowDims,
			Stat: "p99", Period: 60, ReturnData: true},
		{ID: "m1", Namespace: "AWS/ElastiCache", MetricName: "CacheHitRate", Dimensions: cacheDims,
			Stat: "Average", Period: 60, ReturnData: true},
		{ID: "m2", Namespace: "Cato/RayServe", MetricName: "ErrorRate", Dimensions: rayDims,
			Stat: "Average", Period: 60, ReturnData: true},
		{ID: "m3", Namespace: "Cato/Cost", MetricName: "BudgetBurnRate",
			Stat: "Maximum", Period: 300, ReturnData: true},
	}
	if diff := cmp.Diff(got.Queries, want); diff != "" {
		t.Fatalf("queries (-got +want):\n%s", diff)
	}
}

func TestReadErrorsInPlainWords(t *testing.T) {
	tests := []struct {
		name    string
		failure cloudwatchfake.Failure
		kind    actions.Kind
		msg     string
	}{
		{
			name: "throttled",
			failure: cloudwatchfake.Failure{Code: "ThrottlingException", QueryCode: "Throttling",
				Message: "Rate exceeded"},
			kind: actions.KindUnavailable,
			msg:  "CloudWatch is throttling the bot's requests; try again in a minute",
		},
		{
			name: "access denied",
			failure: cloudwatchfake.Failure{Status: http.StatusForbidden, Code: "AccessDeniedException",
				QueryCode: "AccessDenied", Message: "User: arn:aws:sts::111122223333:assumed-role/catobot/x " +
					"is not authorized to perform: cloudwatch:GetMetricData"},
			kind: actions.KindRefused,
			msg: "the bot's AWS identity may not call cloudwatch:GetMetricData; add it to the " +
				"identity's IAM policy",
		},
		{
			name: "bad query",
			failure: cloudwatchfake.Failure{Code: "InvalidParameterValueException",
				QueryCode: "InvalidParameterValue", Message: "The value  p999.x for\nparameter Stat is not valid."},
			kind: actions.KindRefused,
			msg: "CloudWatch refused the metric query: The value p999.x for parameter Stat is not " +
				"valid; check monitoring.metrics in the config",
		},
		{
			name: "bad credentials",
			failure: cloudwatchfake.Failure{Code: "InvalidClientTokenId",
				Message: "The security token is invalid"},
			kind: actions.KindRefused,
			msg: "AWS did not accept the bot's credentials (InvalidClientTokenId); check the AWS " +
				"identity the bot runs as",
		},
		{
			name: "internal fault",
			failure: cloudwatchfake.Failure{Status: http.StatusInternalServerError,
				Code: "InternalServiceFault", QueryCode: "InternalServiceError", Message: "oops"},
			kind: actions.KindUnavailable,
			msg:  "CloudWatch is having trouble (InternalServiceError); try again in a few minutes",
		},
		{
			name:    "unknown 503",
			failure: cloudwatchfake.Failure{Status: http.StatusServiceUnavailable, Code: "SlowDown2"},
			kind:    actions.KindUnavailable,
			msg:     "CloudWatch is not answering properly (HTTP 503); try again in a few minutes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, m := newFixture(t)
			fake.Fail(cloudwatchfake.OpGetMetricData, tt.failure)

			_, err := m.Read(context.Background())
			require.Error(t, err)
			require.Equal(t, tt.kind, actions.KindOf(err))
			require.Equal(t, tt.msg, actions.Explain(err))
			requireNoSecret(t, err)
		})
	}
}

func TestReadUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	m, err := New(DefaultConfig(), newClient(url), Options{Now: func() time.Time { return now }})
	require.NoError(t, err)

	_, err = m.Read(context.Background())
	require.Error(t, err)
	require.Equal(t, actions.KindUnavailable, actions.KindOf(err))
	require.Equal(t, "could not reach CloudWatch for GetMetricData; try again later", actions.Explain(err))
	requireNoSecret(t, err)
}

func TestReadCancelled(t *testing.T) {
	_, m := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := m.Read(ctx)
	require.Error(t, err)
	require.Equal(t, actions.KindUnavailable, actions.KindOf(err))
	requireNoSecret(t, err)
}

// requireNoSecret fails when err's text holds the test secret key.
func requireNoSecret(t *testing.T, err error) {
	t.Helper()
	require.NotContains(t, err.Error(), awstest.SecretKey)
	require.NotContains(t, actions.Explain(err), awstest.SecretKey)
	require.False(t, strings.Contains(err.Error(), "Signature="), "error holds a signature: %v", err)
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Metrics[0].Direction = "up"
	_, err := New(cfg, newClient("http://127.0.0.1:1"), Options{})
	require.EqualError(t, err,
		`monitoring config: metrics[0].direction: must be above or below, not "up"`)
}
