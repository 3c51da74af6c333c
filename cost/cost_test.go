package cost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/computeoptimizer"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	cofake "github.com/thinktank/catobot/fakes/computeoptimizerfake"
	"github.com/thinktank/catobot/internal/awstest"
	"github.com/thinktank/catobot/internal/configtest"
)

func TestMain(m *testing.M) {
	// Credentials are static, but nothing may fall back to instance metadata.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// newClient returns a real Compute Optimizer client aimed at url, retrying
// once with no backoff.
func newClient(url string) *computeoptimizer.Client {
	return computeoptimizer.NewFromConfig(awstest.Config(url, awstest.Attempts(2)))
}

// newFixture starts a fake holding cofake.Cato() and a reporter for cfg.
func newFixture(t *testing.T, cfg Config) (*cofake.Fake, *Reporter) {
	t.Helper()
	fake := cofake.New(cofake.Cato()...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	r, err := New(cfg, newClient(srv.URL), Options{})
	require.NoError(t, err)
	return fake, r
}

func TestReport(t *testing.T) {
	fake, r := newFixture(t, DefaultConfig())

	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	want := Report{
		Recommendations: []Rec{
			{
				Instance: "cato-ray-worker-1", InstanceID: "i-0ray0000000000001",
				InstanceARN: "arn:aws:ec2:us-east-1:111122223333:instance/i-0ray0000000000001",
				Account:     "111122223333", CurrentType: "m7g.4xlarge", RecommendedType: "m7g.2xlarge",
				Finding: Overprovisioned, MonthlySavings: 201.5, Currency: "USD", SavingsPercent: 42.3,
				HasSavings: true, AfterDiscounts: true,
			},
			{
				Instance: "cato-night-curiosity", InstanceID: "i-0night00000000002",
				InstanceARN: "arn:aws:ec2:us-east-1:111122223333:instance/i-0night00000000002",
				Account:     "111122223333", CurrentType: "c7g.large", RecommendedType: "c7g.xlarge",
				Finding: Underprovisioned,
			},
		},
		Optimized:           1,
		TotalMonthlySavings: 201.5,
		Currency:            "USD",
		Notes: []string{
			"Resizing every instance listed would save about $201.50 a month.",
			"1 instance is already optimized.",
			SavingsPlansNote,
			SpotNote,
		},
	}
	if diff := cmp.Diff(rep, want); diff != "" {
		t.Fatalf("report (-got +want):\n%s", diff)
	}
	var texts []string
	for _, rec := range rep.Recommendations {
		texts = append(texts, rec.Text())
	}
	wantTexts := []string{
		"cato-ray-worker-1 (i-0ray0000000000001): m7g.4xlarge → m7g.2xlarge, overprovisioned, " +
			"saves about $201.50 a month after discounts",
		"cato-night-curiosity (i-0night00000000002): c7g.large → c7g.xlarge, underprovisioned",
	}
	if diff := cmp.Diff(texts, wantTexts); diff != "" {
		t.Fatalf("texts (-got +want):\n%s", diff)
	}

	calls := fake.Recorder.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, "compute-optimizer", calls[0].Service)
	wantReq := []cofake.Request{{
		Filters:    map[string][]string{"Finding": {Overprovisioned, Underprovisioned, Optimized}},
		MaxResults: 100,
	}}
	if diff := cmp.Diff(fake.Requests(), wantReq); diff != "" {
		t.Fatalf("requests (-got +want):\n%s", diff)
	}
}

func TestReportRunbookFilter(t *testing.T) {
	cfg, err := load(t, "runbook.yml")
	require.NoError(t, err)
	fake, r := newFixture(t, cfg)

	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Recommendations)
	require.Equal(t, 1, rep.Optimized)
	require.Equal(t, []string{
		"Compute Optimizer has no EC2 instance to resize (findings asked for: Optimized).",
		"1 instance is already optimized.",
		SavingsPlansNote,
		SpotNote,
	}, rep.Notes)
	require.Equal(t, []string{Optimized}, fake.Requests()[0].Filters["Finding"])
}

func TestReportPagesAndLimits(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int32
		maxPages int
		maxShown int
		calls    int
		shown    int
		more     int
		notes    []string
	}{
		{
			name: "all pages", pageSize: 1, maxPages: 5, maxShown: 10, calls: 3, shown: 2,
			notes: []string{
				"Resizing every instance listed would save about $201.50 a month.",
				"1 instance is already optimized.",
			},
		},
		{
			name: "page limit", pageSize: 1, maxPages: 2, maxShown: 10, calls: 2, shown: 2,
			notes: []string{
				"Only the first 2 recommendations were read; raise cost.max_pages to read more.",
				"Resizing every instance listed would save about $201.50 a month.",
				"0 instances are already optimized.",
			},
		},
		{
			name: "shown limit", pageSize: 100, maxPages: 1, maxShown: 1, calls: 1, shown: 1, more: 1,
			notes: []string{
				"1 more not shown (cost.max_shown is 1).",
				"Resizing every instance listed would save about $201.50 a month.",
				"1 instance is already optimized.",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.PageSize, cfg.MaxPages, cfg.MaxShown = tt.pageSize, tt.maxPages, tt.maxShown
			fake, r := newFixture(t, cfg)

			rep, err := r.Report(context.Background())
			require.NoError(t, err)
			require.Equal(t, tt.calls, fake.Recorder.Count(cofake.OpGetEC2InstanceRecommendations))
			require.Len(t, rep.Recommendations, tt.shown)
			require.Equal(t, tt.more, rep.More)
			require.Equal(t, Overprovisioned, rep.Recommendations[0].Finding)
			want := append(tt.notes, SavingsPlansNote, SpotNote)
			if diff := cmp.Diff(rep.Notes, want); diff != "" {
				t.Fatalf("notes (-got +want):\n%s", diff)
			}
		})
	}
}

func TestReportPartialErrors(t *testing.T) {
	fake, r := newFixture(t, DefaultConfig())
	fake.SetErrors(cofake.RecommendationError{
		Identifier: "444455556666", Code: "AccessDenied",
		Message: "Member account\n is not  enrolled",
	})

	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Recommendations, 2)
	require.Equal(t, "Compute Optimizer could not report on 444455556666: Member account is not enrolled",
		rep.Notes[0])
}

func TestReportNotOptedIn(t *testing.T) {
	fake, r := newFixture(t, DefaultConfig())
	fake.SetOptedIn(false)

	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	want := Report{OptInRequired: true, Notes: []string{OptInNote, SavingsPlansNote, SpotNote}}
	if diff := cmp.Diff(rep, want); diff != "" {
		t.Fatalf("report (-got +want):\n%s", diff)
	}
	require.Equal(t, 1, fake.Recorder.Count(cofake.OpGetEC2InstanceRecommendations), "not retried")
}

func TestReportErrorsInPlainWords(t *testing.T) {
	tests := []struct {
		name    string
		failure cofake.Failure
		kind    actions.Kind
		msg     string
	}{
		{
			name:    "throttled",
			failure: cofake.Failure{Code: "com.amazonaws.computeoptimizer#ThrottlingException"},
			kind:    actions.KindUnavailable,
			msg:     "Compute Optimizer is throttling the bot's requests; try again in a minute",
		},
		{
			name: "access denied",
			failure: cofake.Failure{Status: http.StatusForbidden, Code: "AccessDeniedException",
				Message: "User: arn:aws:sts::111122223333:assumed-role/catobot/x is not authorized"},
			kind: actions.KindRefused,
			msg: "the bot's AWS identity may not call compute-optimizer:GetEC2InstanceRecommendations; " +
				"add it to the identity's IAM policy",
		},
		{
			name:    "bad credentials",
			failure: cofake.Failure{Status: http.StatusForbidden, Code: "MissingAuthenticationToken"},
			kind:    actions.KindRefused,
			msg: "AWS did not accept the bot's credentials (MissingAuthenticationToken); check the " +
				"AWS identity the bot runs as",
		},
		{
			name: "invalid parameter",
			failure: cofake.Failure{Code: "InvalidParameterValueException",
				Message: "Invalid value for filter"},
			kind: actions.KindRefused,
			msg: "Compute Optimizer refused the request: Invalid value for filter; check " +
				"cost.findings in the config",
		},
		{
			name: "service unavailable",
			failure: cofake.Failure{Status: http.StatusServiceUnavailable,
				Code: "ServiceUnavailableException"},
			kind: actions.KindUnavailable,
			msg:  "Compute Optimizer is having trouble (ServiceUnavailableException); try again in a few minutes",
		},
		{
			name:    "unknown 500",
			failure: cofake.Failure{Status: http.StatusInternalServerError, Code: "Whatever"},
			kind:    actions.KindUnavailable,
			msg:     "Compute Optimizer is not answering properly (HTTP 500); try again in a few minutes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, r := newFixture(t, DefaultConfig())
			fake.Fail(cofake.OpGetEC2InstanceRecommendations, tt.failure)

			_, err := r.Report(context.Background())
			require.Error(t, err)
			require.Equal(t, tt.kind, actions.KindOf(err))
			require.Equal(t, tt.msg, actions.Explain(err))
			require.NotContains(t, err.Error(), awstest.SecretKey)
			require.NotContains(t, err.Error(), "Signature=")
		})
	}
}

func TestReportUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r, err := New(DefaultConfig(), newClient(url), Options{})
	require.NoError(t, err)

	_, err = r.Report(context.Background())
	require.Error(t, err)
	require.Equal(t, actions.KindUnavailable, actions.KindOf(err))
	require.Equal(t, "could not reach Compute Optimizer for GetEC2InstanceRecommendations; "+
		"try again later", actions.Explain(err))
	require.NotContains(t, err.Error(), awstest.SecretKey)
}

// load reads a config file strictly over the defaults and validates it,
// the way the bot's config loader does.
func load(t *testing.T, name string) (Config, error) {
	return configtest.Load(t, name, DefaultConfig())
}

func TestConfigBad(t *testing.T) {
	tests := []struct {
		name string
		file string
		err  string
	}{
		{"findings and sizes", "bad_findings.yml",
			"findings[1]: must be one of Overprovisioned, Underprovisioned, Optimized, not \"NotOptimized\"\n" +
				"findings[2]: \"overprovisioned\" repeats findings[0]\n" +
				"page_size: must be at least 1, got 0\n" +
				"max_pages: must be at least 1, got 0\n" +
				"max_shown: must be at least 1, got -1"},
		{"no findings", "no_findings.yml",
			"findings: must name at least one of Overprovisioned, Underprovisioned, Optimized"},
		{"unknown key", "unknown_key.yml",
			"yaml: unmarshal errors:\n  line 1: field finding not found in type cost.Config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.file)
			require.EqualError(t, err, tt.err)
		})
	}
	require.NoError(t, DefaultConfig().Validate())
}
