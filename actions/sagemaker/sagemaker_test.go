package sagemaker

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/fakes/sagemakerfake"
	"github.com/thinktank/catobot/internal/awstest"
)

const (
	opDescribe = sagemakerfake.OpDescribeEndpoint
	opUpdate   = sagemakerfake.OpUpdateEndpointWeightsAndCapacities
)

func TestMain(m *testing.M) {
	// Credentials are static, but nothing may fall back to instance metadata.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// newClient returns a real SageMaker client aimed at the fake, retrying
// once with no backoff.
func newClient(url string) *sm.Client {
	return sm.NewFromConfig(awstest.Config(url, awstest.Attempts(2)))
}

// testConfig is cfg with a short poll interval, so waits are quick.
func testConfig(cfg Config) Config {
	cfg.PollInterval = time.Millisecond
	cfg.MaxPollInterval = 2 * time.Millisecond
	cfg.WaitTimeout = time.Minute
	return cfg
}

type fixture struct {
	fake   *sagemakerfake.Server
	action *Action
}

// newFixture starts a fake with cato-shadow-self/primary at 5 instances and
// cato-nli/primary at 4, and an action for cfg against it.
func newFixture(t *testing.T, cfg Config, opts Options) fixture {
	t.Helper()
	fake := sagemakerfake.New()
	t.Cleanup(fake.Close)
	fake.SetEndpoint("cato-shadow-self", "primary", 5)
	fake.SetEndpoint("cato-nli", "primary", 4)

	a, err := New(testConfig(cfg), newClient(fake.URL()), opts)
	require.NoError(t, err)
	return fixture{fake: fake, action: a}
}

// recorder collects progress lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) progress(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// requireActionError checks that err is an *actions.Error of kind with
// message msg.
func requireActionError(t *testing.T, err error, kind actions.Kind, msg string) {
	t.Helper()
	require.Error(t, err)
	var ae *actions.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, msg, ae.Msg)
	require.Equal(t, kind, ae.Kind, "kind of %q", ae.Msg)
}

func TestStatus(t *testing.T) {
	lastModified := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		setup    func(f *sagemakerfake.Server)
		cfg      Config
		want     actions.Status
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "in service with instance type",
			setup: func(f *sagemakerfake.Server) {
				f.PutEndpoint(sagemakerfake.Endpoint{
					Name: "cato-shadow-self", Status: "InService", LastModified: lastModified,
					Variants: []sagemakerfake.Variant{
						{Name: "primary", Current: 5, Desired: 5, InstanceType: "ml.g5.2xlarge"},
					},
				})
			},
			cfg: DefaultShadowConfig(),
			want: actions.Status{
				Component: "shadow", Title: "Shadow Self", Target: "cato-shadow-self/primary",
				State: "InService",
				Fields: []actions.Field{
					{Name: "instances", Value: "5"},
					{Name: "desired instances", Value: "5"},
					{Name: "instance type", Value: "ml.g5.2xlarge"},
					{Name: "last modified", Value: "2026-12-04T09:30:00Z"},
				},
			},
		},
		{
			name: "updating with failure reason",
			setup: func(f *sagemakerfake.Server) {
				f.SetSteps(0)
				f.PutEndpoint(sagemakerfake.Endpoint{
					Name: "cato-nli", Status: "Updating", LastModified: lastModified,
					FailureReason: "earlier update ran out of capacity",
					Variants:      []sagemakerfake.Variant{{Name: "primary", Current: 4, Desired: 6}},
				})
			},
			cfg: DefaultNLIConfig(),
			want: actions.Status{
				Component: "nli", Title: "NLI model", Target: "cato-nli/primary", State: "Updating",
				Fields: []actions.Field{
					{Name: "instances", Value: "4"},
					{Name: "desired instances", Value: "6"},
					{Name: "last modified", Value: "2026-12-04T09:30:00Z"},
					{Name: "failure reason", Value: "earlier update ran out of capacity"},
				},
			},
		},
		{
			name: "unknown endpoint",
			cfg: func() Config {
				c := DefaultShadowConfig()
				c.Endpoint = "cato-missing"
				return c
			}(),
			wantKind: actions.KindNotFound,
			wantMsg:  "SageMaker has no endpoint named cato-missing in this account and region",
		},
		{
			name: "unknown variant",
			cfg: func() Config {
				c := DefaultShadowConfig()
				c.Variant = "canary"
				return c
			}(),
			wantKind: actions.KindNotFound,
			wantMsg:  `SageMaker endpoint cato-shadow-self has no variant "canary" (it has variants primary)`,
		},
		{
			name: "throttled",
			setup: func(f *sagemakerfake.Server) {
				f.Fail(opDescribe, sagemakerfake.Fault{Code: "ThrottlingException", Message: "Rate exceeded", Times: 2})
			},
			cfg:      DefaultShadowConfig(),
			wantKind: actions.KindUnavailable,
			wantMsg:  "SageMaker is throttling the bot's requests; try again in a minute",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg, Options{})
			if tt.setup != nil {
				tt.setup(f.fake)
			}

			got, err := f.action.Status(context.Background())
			if tt.wantMsg != "" {
				requireActionError(t, err, tt.wantKind, tt.wantMsg)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Status() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	shadowPlan := func(verb string, from, to string, warnings ...string) actions.Plan {
		return actions.Plan{
			Component: "shadow", Verb: verb, Target: "cato-shadow-self/primary",
			Summary: "Shadow Self: " + from + " → " + to + " instances",
			Changes: []actions.Change{{Field: "instances", From: from, To: to}},
			Params: map[string]string{
				"endpoint": "cato-shadow-self", "variant": "primary", "desired": to,
			},
			Warnings: warnings,
		}
	}
	tests := []struct {
		name     string
		cfg      Config
		setup    func(f *sagemakerfake.Server)
		req      actions.Request
		want     actions.Plan
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "absolute",
			req:  actions.Request{Verb: "scale", Args: []string{"15"}},
			want: shadowPlan("scale", "5", "15"),
		},
		{
			name: "relative up",
			req:  actions.Request{Verb: "scale", Args: []string{"+10"}},
			want: shadowPlan("scale", "5", "15"),
		},
		{
			name: "relative down",
			req:  actions.Request{Verb: "scale", Args: []string{"-3"}},
			want: shadowPlan("scale", "5", "2"),
		},
		{
			name:     "above the highest allowed",
			req:      actions.Request{Verb: "scale", Args: []string{"300"}},
			wantKind: actions.KindUsage,
			wantMsg:  "300 instances is above the highest allowed, 250",
		},
		{
			name:     "relative below the lowest allowed",
			req:      actions.Request{Verb: "scale", Args: []string{"-10"}},
			wantKind: actions.KindUsage,
			wantMsg:  "-5 instances is below the lowest allowed, 1",
		},
		{
			name:     "zero",
			req:      actions.Request{Verb: "scale", Args: []string{"0"}},
			wantKind: actions.KindUsage,
			wantMsg:  "instances must be at least 1, not 0",
		},
		{
			name:     "not a number",
			req:      actions.Request{Verb: "scale", Args: []string{"ten"}},
			wantKind: actions.KindUsage,
			wantMsg:  `"ten" is not a whole number of instances`,
		},
		{
			name:     "same value",
			req:      actions.Request{Verb: "scale", Args: []string{"5"}},
			wantKind: actions.KindUsage,
			wantMsg:  "cato-shadow-self/primary already has 5 instances",
		},
		{
			name:     "no count",
			req:      actions.Request{Verb: "scale"},
			wantKind: actions.KindUsage,
			wantMsg:  "say how many instances: scale shadow N, or +N / -N to change by N",
		},
		{
			name:     "unknown verb",
			req:      actions.Request{Verb: "tier", Args: []string{"1m"}},
			wantKind: actions.KindUsage,
			wantMsg:  `shadow can be scaled or rolled back, not "tier": use scale shadow N or rollback shadow`,
		},
		{
			name: "rollback with a record",
			req:  actions.Request{Verb: "rollback", Args: []string{"7"}},
			want: shadowPlan("rollback", "5", "7"),
		},
		{
			name: "rollback without a record uses the runbook's value",
			req:  actions.Request{Verb: "rollback"},
			want: shadowPlan("rollback", "5", "10", "no earlier change recorded; using the runbook's value 10"),
		},
		{
			name:     "nli rollback without a record or rollback_to",
			cfg:      DefaultNLIConfig(),
			req:      actions.Request{Verb: "rollback"},
			wantKind: actions.KindUsage,
			wantMsg: "no earlier change of nli is recorded and no rollback_to value is configured, so " +
				"there is nothing to roll back to; use scale nli N to set the count",
		},
		{
			name:     "nli above its own limit",
			cfg:      DefaultNLIConfig(),
			req:      actions.Request{Verb: "scale", Args: []string{"60"}},
			wantKind: actions.KindUsage,
			wantMsg:  "60 instances is above the highest allowed, 50",
		},
		{
			name: "endpoint updating",
			setup: func(f *sagemakerfake.Server) {
				require.NoError(t, f.StartUpdate("cato-shadow-self", "primary", 8))
			},
			req:      actions.Request{Verb: "scale", Args: []string{"15"}},
			wantKind: actions.KindBusy,
			wantMsg:  "cato-shadow-self is Updating; wait for it to finish",
		},
		{
			name: "endpoint failed",
			setup: func(f *sagemakerfake.Server) {
				f.PutEndpoint(sagemakerfake.Endpoint{
					Name: "cato-shadow-self", Status: "Failed", FailureReason: "image not found",
					Variants: []sagemakerfake.Variant{{Name: "primary", Current: 0, Desired: 5}},
				})
			},
			req:      actions.Request{Verb: "scale", Args: []string{"15"}},
			wantKind: actions.KindRefused,
			wantMsg: "cato-shadow-self is Failed and cannot be scaled until it is repaired: " +
				"SageMaker says image not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Endpoint == "" {
				cfg = DefaultShadowConfig()
			}
			f := newFixture(t, cfg, Options{})
			if tt.setup != nil {
				tt.setup(f.fake)
			}
			tt.req.Component = cfg.Component

			got, err := f.action.Plan(context.Background(), tt.req)
			if tt.wantMsg != "" {
				requireActionError(t, err, tt.wantKind, tt.wantMsg)
				require.Zero(t, f.fake.Count(opUpdate))
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Plan() mismatch (-got +want):\n%s", diff)
			}
			require.Zero(t, f.fake.Count(opUpdate), "Plan must change nothing")
		})
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		steps     int
		arg       string
		wantLines []string
		want      int32
	}{
		{
			name:  "5 to 15",
			steps: 3,
			arg:   "15",
			wantLines: []string{
				"Updating: 8/15 instances in service",
				"Updating: 11/15 instances in service",
			},
			want: 15,
		},
		{
			name:  "repeated states are reported once",
			steps: 6,
			arg:   "7",
			wantLines: []string{
				"Updating: 5/7 instances in service",
				"Updating: 6/7 instances in service",
			},
			want: 7,
		},
		{
			name:      "scale down",
			steps:     2,
			arg:       "-2",
			wantLines: []string{"Updating: 4/3 instances in service"},
			want:      3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, DefaultShadowConfig(), Options{})
			f.fake.SetSteps(tt.steps)
			ctx := context.Background()
			p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{tt.arg}})
			require.NoError(t, err)

			var rec recorder
			res, err := f.action.Run(ctx, p, rec.progress)
			require.NoError(t, err)

			if diff := cmp.Diff(rec.got(), tt.wantLines); diff != "" {
				t.Errorf("progress lines mismatch (-got +want):\n%s", diff)
			}
			require.Equal(t, "cato-shadow-self/primary now has "+strconv.Itoa(int(tt.want))+" instances (InService)", res.Summary)
			require.False(t, res.DryRun)
			ep, ok := f.fake.Endpoint("cato-shadow-self")
			require.True(t, ok)
			require.Equal(t, "InService", ep.Status)
			v, _ := ep.Variant("primary")
			require.Equal(t, sagemakerfake.Variant{Name: "primary", Current: tt.want, Desired: tt.want}, v)

			wantOps := []string{opDescribe, opUpdate}
			for range tt.steps {
				wantOps = append(wantOps, opDescribe)
			}
			if diff := cmp.Diff(f.fake.Ops(), wantOps); diff != "" {
				t.Errorf("calls mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRunResultFields(t *testing.T) {
	f := newFixture(t, DefaultShadowConfig(), Options{})
	ctx := context.Background()
	p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"15"}})
	require.NoError(t, err)

	res, err := f.action.Run(ctx, p, nil)
	require.NoError(t, err)

	require.Equal(t, actions.Field{Name: "instances", Value: "15"}, res.Fields[0])
	require.Equal(t, actions.Field{Name: "desired instances", Value: "15"}, res.Fields[1])
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, f *sagemakerfake.Server)
		wantKind actions.Kind
		wantMsg  string
		// wantUpdates is how many update calls reached the fake.
		wantUpdates int
	}{
		{
			name: "update started elsewhere after the preview",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				require.NoError(t, f.StartUpdate("cato-shadow-self", "primary", 8))
			},
			wantKind:    actions.KindBusy,
			wantMsg:     "cato-shadow-self is being updated already; wait for it to finish",
			wantUpdates: 1,
		},
		{
			name: "throttled on every attempt",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opUpdate, sagemakerfake.Fault{Code: "ThrottlingException", Message: "Rate exceeded", Times: 2})
			},
			wantKind:    actions.KindUnavailable,
			wantMsg:     "SageMaker is throttling the bot's requests; try again in a minute",
			wantUpdates: 2,
		},
		{
			name: "quota",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opUpdate, sagemakerfake.Fault{
					Code: "ResourceLimitExceeded",
					Message: "The account-level service limit 'ml.g5.2xlarge for endpoint usage' is 10 " +
						"Instances, with current utilization of 5 Instances and a request delta of 10 " +
						"Instances. Please use AWS Service Quotas to request an increase for this quota.",
				})
			},
			wantKind: actions.KindRefused,
			wantMsg: "SageMaker refused the change because an account quota is too low: The account-level " +
				"service limit 'ml.g5.2xlarge for endpoint usage' is 10 Instances, with current " +
				"utilization of 5 Instances and a request delta of 10 Instances. Please use AWS Service " +
				"Quotas to request an increase for this quota.",
			wantUpdates: 1,
		},
		{
			name: "access denied names the permission",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opUpdate, sagemakerfake.Fault{
					Code: "AccessDeniedException",
					Message: "User: arn:aws:sts::111122223333:assumed-role/catobot/pod is not authorized " +
						"to perform: sagemaker:UpdateEndpointWeightsAndCapacities on resource: " +
						"arn:aws:sagemaker:us-east-1:111122223333:endpoint/cato-shadow-self because no " +
						"identity-based policy allows the sagemaker:UpdateEndpointWeightsAndCapacities action",
				})
			},
			wantKind: actions.KindRefused,
			wantMsg: "the bot's AWS identity may not call sagemaker:UpdateEndpointWeightsAndCapacities; add " +
				"it to the identity's IAM policy for cato-shadow-self",
			wantUpdates: 1,
		},
		{
			name: "access denied without details",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opUpdate, sagemakerfake.Fault{Code: "AccessDeniedException", Message: "Access denied"})
			},
			wantKind:    actions.KindRefused,
			wantMsg:     "the bot's AWS identity may not call sagemaker:UpdateEndpointWeightsAndCapacities on cato-shadow-self",
			wantUpdates: 1,
		},
		{
			name: "server error on every attempt",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opUpdate, sagemakerfake.Fault{Status: http.StatusServiceUnavailable,
					Code: "ServiceUnavailable", Message: "try later", Times: 2})
			},
			wantKind:    actions.KindUnavailable,
			wantMsg:     "SageMaker is having trouble (ServiceUnavailable); try again in a few minutes",
			wantUpdates: 2,
		},
		{
			name: "unknown 5xx code",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opUpdate, sagemakerfake.Fault{Status: http.StatusBadGateway, Code: "Weird", Times: 2})
			},
			wantKind:    actions.KindUnavailable,
			wantMsg:     "SageMaker is not answering properly (HTTP 502); try again in a few minutes",
			wantUpdates: 2,
		},
		{
			name: "other validation error",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opUpdate, sagemakerfake.Fault{Code: "ValidationException",
					Message: "Endpoint cato-shadow-self uses\nserverless inference."})
			},
			wantKind: actions.KindRefused,
			wantMsg: "SageMaker refused UpdateEndpointWeightsAndCapacities on cato-shadow-self: Endpoint " +
				"cato-shadow-self uses serverless inference.",
			wantUpdates: 1,
		},
		{
			name: "throttled on every read while following",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				// Two attempts per call, five calls in a row.
				f.Fail(opDescribe, sagemakerfake.Fault{Code: "ThrottlingException", Message: "Rate exceeded",
					Times: 2 * actions.MaxFailedReads})
			},
			wantKind:    actions.KindUnavailable,
			wantMsg:     "SageMaker is throttling the bot's requests; try again in a minute",
			wantUpdates: 1,
		},
		{
			name: "access denied while following",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.Fail(opDescribe, sagemakerfake.Fault{Code: "AccessDeniedException", Message: "User: x is " +
					"not authorized to perform: sagemaker:DescribeEndpoint on resource: y"})
			},
			wantKind: actions.KindRefused,
			wantMsg: "the bot's AWS identity may not call sagemaker:DescribeEndpoint; add it to the " +
				"identity's IAM policy for cato-shadow-self",
			wantUpdates: 1,
		},
		{
			name: "update rolled back",
			setup: func(t *testing.T, f *sagemakerfake.Server) {
				f.FailNextUpdate("cato-shadow-self", "Unable to provision requested ML compute capacity.")
			},
			wantKind: actions.KindRefused,
			wantMsg: "cato-shadow-self/primary is InService again with 5 instances, not 15: SageMaker says " +
				"Unable to provision requested ML compute capacity.",
			wantUpdates: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, DefaultShadowConfig(), Options{})
			ctx := context.Background()
			p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"15"}})
			require.NoError(t, err)
			tt.setup(t, f.fake)

			_, err = f.action.Run(ctx, p, nil)

			requireActionError(t, err, tt.wantKind, tt.wantMsg)
			require.Equal(t, tt.wantUpdates, f.fake.Count(opUpdate))
		})
	}
}

func TestRunThrottledWhileFollowing(t *testing.T) {
	f := newFixture(t, DefaultShadowConfig(), Options{})
	ctx := context.Background()
	p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"15"}})
	require.NoError(t, err)
	// Both attempts of the first two reads after the update fail.
	f.fake.Fail(opDescribe, sagemakerfake.Fault{Code: "ThrottlingException", Message: "Rate exceeded", Times: 4})

	var rec recorder
	res, err := f.action.Run(ctx, p, rec.progress)

	require.NoError(t, err)
	require.Equal(t, "cato-shadow-self/primary now has 15 instances (InService)", res.Summary)
	require.Equal(t, 1, f.fake.Count(opUpdate))
}

func TestRunWaitTimeout(t *testing.T) {
	f := newFixture(t, DefaultShadowConfig(), Options{})
	f.fake.SetSteps(0) // the update never moves on its own
	cfg := f.action.Config()
	cfg.WaitTimeout = 200 * time.Millisecond
	a, err := New(cfg, newClient(f.fake.URL()), Options{})
	require.NoError(t, err)
	ctx := context.Background()
	p, err := a.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"15"}})
	require.NoError(t, err)

	_, err = a.Run(ctx, p, nil)

	require.Equal(t, actions.KindBusy, actions.KindOf(err))
	// The last state seen depends on how many reads fit in the timeout.
	require.True(t, strings.HasPrefix(actions.Explain(err), "cato-shadow-self/primary did not reach "+
		"InService within 200ms; the update goes on in SageMaker, check it with status shadow"), err)
}

func TestRunCancelled(t *testing.T) {
	f := newFixture(t, DefaultShadowConfig(), Options{})
	f.fake.SetSteps(0)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"15"}})
	require.NoError(t, err)

	_, err = f.action.Run(ctx, p, func(string) { cancel() })

	requireActionError(t, err, actions.KindBusy, "stopped following cato-shadow-self/primary before it "+
		"finished; the update goes on in SageMaker")
}

func TestRunPlanForAnotherEndpoint(t *testing.T) {
	f := newFixture(t, DefaultNLIConfig(), Options{})
	p := actions.Plan{Params: map[string]string{"endpoint": "cato-shadow-self", "variant": "primary", "desired": "15"}}

	_, err := f.action.Run(context.Background(), p, nil)

	requireActionError(t, err, actions.KindInternal, "this step is for cato-shadow-self/primary, not cato-nli/primary")
	require.Zero(t, f.fake.Count(opUpdate))
}

func TestDryRun(t *testing.T) {
	f := newFixture(t, DefaultShadowConfig(), Options{DryRun: true})
	ctx := context.Background()
	p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"15"}})
	require.NoError(t, err)

	res, err := f.action.Run(ctx, p, nil)

	require.NoError(t, err)
	want := actions.Result{
		Summary: "dry run: would call UpdateEndpointWeightsAndCapacities(endpoint=cato-shadow-self, " +
			"variant=primary, desired_instance_count=15)",
		DryRun: true,
	}
	if diff := cmp.Diff(res, want); diff != "" {
		t.Errorf("Run() mismatch (-got +want):\n%s", diff)
	}
	require.Equal(t, []string{opDescribe}, f.fake.Ops())
	ep, _ := f.fake.Endpoint("cato-shadow-self")
	require.Equal(t, "InService", ep.Status)
}

func TestRollbackRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int32
	}{
		{name: "to the recorded count", args: []string{"7"}, want: 7},
		{name: "to the runbook's value", want: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, DefaultShadowConfig(), Options{})
			ctx := context.Background()
			p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "rollback", Args: tt.args})
			require.NoError(t, err)

			_, err = f.action.Run(ctx, p, nil)

			require.NoError(t, err)
			ep, _ := f.fake.Endpoint("cato-shadow-self")
			v, _ := ep.Variant("primary")
			require.Equal(t, tt.want, v.Current)
		})
	}
}

func TestFollow(t *testing.T) {
	f := newFixture(t, DefaultShadowConfig(), Options{})
	ctx := context.Background()
	p, err := f.action.Plan(ctx, actions.Request{Component: "shadow", Verb: "scale", Args: []string{"15"}})
	require.NoError(t, err)
	// Another process ran the plan and stopped before the update finished.
	require.NoError(t, f.fake.StartUpdate("cato-shadow-self", "primary", 15))
	before := f.fake.Count(opDescribe)

	var rec recorder
	res, err := f.action.Follow(ctx, p, rec.progress)

	require.NoError(t, err)
	require.Equal(t, "cato-shadow-self/primary now has 15 instances (InService)", res.Summary)
	if diff := cmp.Diff(rec.got(), []string{
		"Updating: 8/15 instances in service",
		"Updating: 11/15 instances in service",
	}); diff != "" {
		t.Errorf("progress lines mismatch (-got +want):\n%s", diff)
	}
	require.Equal(t, before+sagemakerfake.DefaultSteps, f.fake.Count(opDescribe))
	require.Zero(t, f.fake.Count(opUpdate))
}

func TestFollowFinishedAlready(t *testing.T) {
	f := newFixture(t, DefaultShadowConfig(), Options{})
	p := actions.Plan{Params: map[string]string{"endpoint": "cato-shadow-self", "variant": "primary", "desired": "5"}}

	var rec recorder
	res, err := f.action.Follow(context.Background(), p, rec.progress)

	require.NoError(t, err)
	require.Equal(t, "cato-shadow-self/primary now has 5 instances (InService)", res.Summary)
	require.Empty(t, rec.got())
}

func TestErrorsCarryNoSecret(t *testing.T) {
	faults := []sagemakerfake.Fault{
		{Code: "AccessDeniedException", Message: "not authorized"},
		{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."},
		{Code: "InvalidSignatureException", Message: "The request signature we calculated does not match"},
		{Status: http.StatusInternalServerError, Code: "InternalFailure", Times: 2},
		{Code: "ValidationException", Message: "something else"},
	}
	for _, fault := range faults {
		t.Run(fault.Code, func(t *testing.T) {
			f := newFixture(t, DefaultShadowConfig(), Options{})
			f.fake.Fail(opDescribe, fault)

			_, err := f.action.Status(context.Background())

			require.Error(t, err)
			for _, s := range []string{err.Error(), actions.Explain(err)} {
				require.NotContains(t, s, awstest.SecretKey)
				require.False(t, strings.Contains(s, awstest.SecretKey[:12]), "partial secret in %q", s)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := DefaultShadowConfig()
	cfg.Endpoint = ""

	_, err := New(cfg, newClient("http://127.0.0.1:1"), Options{})

	require.EqualError(t, err, "sagemaker shadow config: endpoint must not be empty")
}
