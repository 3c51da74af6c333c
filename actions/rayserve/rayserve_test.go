package rayserve

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/fakes/kubefake"
)

const (
	ns     = "cato"
	dep    = "cato-orchestrator"
	hpa    = "cato-orchestrator-hpa"
	target = "cato/cato-orchestrator"
)

// testConfig is the runbook's config with a short poll interval.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.PollInterval = time.Millisecond
	cfg.WaitTimeout = time.Minute
	return cfg
}

type fixture struct {
	fake *kubefake.Server
	act  *Action
}

// newFixture starts a fake with cato-orchestrator at replicas/ready and, when hpaMax > 0,
// its HPA at hpaMin–hpaMax, and returns the action talking to it through real client-go.
func newFixture(t *testing.T, replicas, ready, hpaMin, hpaMax int32, dryRun bool) fixture {
	t.Helper()
	fake := kubefake.New(kubefake.Options{Token: "fixture-token", ReadyTicks: 3})
	t.Cleanup(fake.Close)
	fake.SetDeployment(ns, dep, replicas, ready)
	if hpaMax > 0 {
		fake.SetHPA(ns, hpa, hpaMin, hpaMax)
	}
	client, err := kubernetes.NewForConfig(fake.RESTConfig())
	require.NoError(t, err)
	act, err := New(testConfig(), client, Options{DryRun: dryRun})
	require.NoError(t, err)
	return fixture{fake: fake, act: act}
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

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func req(verb string, args ...string) actions.Request {
	return actions.Request{Component: actions.Ray, Verb: verb, Args: args}
}

func TestScale(t *testing.T) {
	tests := []struct {
		name      string
		arg       string
		from, to  int32
		wantLines []string
	}{
		{name: "absolute", arg: "100", from: 10, to: 100, wantLines: []string{
			"Ray Serve: 40/100 replicas ready", "Ray Serve: 70/100 replicas ready",
			"Ray Serve: 100/100 replicas ready",
		}},
		{name: "relative up", arg: "+5", from: 10, to: 15, wantLines: []string{
			"Ray Serve: 12/15 replicas ready", "Ray Serve: 14/15 replicas ready",
			"Ray Serve: 15/15 replicas ready",
		}},
		{name: "relative down", arg: "-5", from: 10, to: 5, wantLines: []string{
			"Ray Serve: 8/5 replicas ready", "Ray Serve: 6/5 replicas ready", "Ray Serve: 5/5 replicas ready",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, tt.from, tt.from, 1, 200, false)

			p, err := f.act.Plan(ctx, req(actions.VerbScale, tt.arg))
			require.NoError(t, err)
			want := actions.Plan{
				Component: actions.Ray, Verb: actions.VerbScale, Target: target,
				Summary: "Ray Serve: " + itoa(int64(tt.from)) + " → " + itoa(int64(tt.to)) + " replicas",
				Changes: []actions.Change{{Field: "replicas", From: itoa(int64(tt.from)), To: itoa(int64(tt.to))}},
				Params:  map[string]string{ParamReplicas: itoa(int64(tt.to))},
			}
			if diff := cmp.Diff(p, want); diff != "" {
				t.Fatalf("plan mismatch (-got +want):\n%s", diff)
			}
			require.Empty(t, f.fake.Mutations(), "Plan must change nothing")

			var rec recorder
			res, err := f.act.Run(ctx, p, rec.progress)
			require.NoError(t, err)
			require.Equal(t, tt.wantLines, rec.all())
			require.Equal(t, target+" now has "+itoa(int64(tt.to))+"/"+itoa(int64(tt.to))+" replicas ready",
				res.Summary)

			d, _ := f.fake.Deployment(ns, dep)
			require.Equal(t, tt.to, *d.Spec.Replicas)
			muts := f.fake.Mutations()
			require.Len(t, muts, 1)
			require.Equal(t, "update", muts[0].Verb)
			require.Equal(t, kubefake.Scale, muts[0].Resource)
			require.Equal(t, "application/vnd.kubernetes.protobuf", muts[0].ContentType)
		})
	}
}

func TestScaleUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no number", args: nil, want: "scale ray takes one number of replicas, such as 100, +5 or -5"},
		{name: "two numbers", args: []string{"1", "2"}, want: "scale ray takes one number of replicas, such as 100, +5 or -5"},
		{name: "not a number", args: []string{"ten"}, want: `"ten" is not a whole number of replicas`},
		{name: "fraction", args: []string{"1.5"}, want: `"1.5" is not a whole number of replicas`},
		{name: "zero", args: []string{"0"}, want: "replicas must be at least 1, not 0"},
		{name: "above max", args: []string{"201"}, want: "201 replicas is above the highest allowed, 200"},
		{name: "below min", args: []string{"-10"}, want: "0 replicas is below the lowest allowed, 1"},
		{name: "same", args: []string{"10"}, want: "Ray Serve already has 10 replicas; nothing to change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 10, 10, 1, 200, false)
			_, err := f.act.Plan(context.Background(), req(actions.VerbScale, tt.args...))
			require.Error(t, err)
			require.Equal(t, actions.KindUsage, actions.KindOf(err))
			require.Equal(t, tt.want, actions.Explain(err))
		})
	}
}

func TestScaleAboveHPAMaxRaisesItFirst(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10, 10, 5, 50, false)

	p, err := f.act.Plan(ctx, req(actions.VerbScale, "100"))
	require.NoError(t, err)
	require.Equal(t, []string{"the HPA cato-orchestrator-hpa allows at most 50 replicas and will scale " +
		"back to 50; confirming also raises its max to 100"}, p.Warnings)
	wantExtra := []actions.Plan{{
		Component: actions.Ray, Verb: actions.VerbHPA, Target: "cato/cato-orchestrator-hpa",
		Summary: "Ray Serve HPA cato-orchestrator-hpa: max 50 → 100",
		Changes: []actions.Change{{Field: "hpa_max", From: "50", To: "100"}},
		Params:  map[string]string{ParamHPAMax: "100"},
	}}
	if diff := cmp.Diff(p.Extra, wantExtra); diff != "" {
		t.Fatalf("extra plans mismatch (-got +want):\n%s", diff)
	}

	_, err = f.act.Run(ctx, p, nil)
	require.NoError(t, err)
	muts := f.fake.Mutations()
	require.Len(t, muts, 2)
	require.Equal(t, []string{"patch " + kubefake.HPAs, "update " + kubefake.Scale},
		[]string{muts[0].Verb + " " + muts[0].Resource, muts[1].Verb + " " + muts[1].Resource})
	require.JSONEq(t, `{"spec":{"maxReplicas":100}}`, string(muts[0].Body))
	h, _ := f.fake.HPA(ns, hpa)
	require.Equal(t, int32(100), h.Spec.MaxReplicas)

	// The extra plan, run afterwards as the bot does, is the same merge patch again.
	res, err := f.act.Run(ctx, p.Extra[0], nil)
	require.NoError(t, err)
	require.Equal(t, "HPA cato-orchestrator-hpa now allows 5–100 replicas", res.Summary)
}

func TestScaleBelowHPAMinWarns(t *testing.T) {
	f := newFixture(t, 20, 20, 10, 50, false)
	p, err := f.act.Plan(context.Background(), req(actions.VerbScale, "5"))
	require.NoError(t, err)
	require.Equal(t, []string{"the HPA cato-orchestrator-hpa keeps at least 10 replicas and would scale back up to 10; " +
		"confirming also lowers its min to 5"}, p.Warnings)
	require.Len(t, p.Extra, 1)
	require.Equal(t, "Ray Serve HPA cato-orchestrator-hpa: min 10 → 5", p.Extra[0].Summary)
}

func TestScaleWithoutHPA(t *testing.T) {
	f := newFixture(t, 10, 10, 0, 0, false)
	p, err := f.act.Plan(context.Background(), req(actions.VerbScale, "150"))
	require.NoError(t, err)
	require.Empty(t, p.Warnings)
	require.Empty(t, p.Extra)
}

func TestHPA(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantPlan  actions.Plan
		wantPatch string
		wantRes   string
	}{
		{
			name: "max", args: []string{"max=200"},
			wantPlan: actions.Plan{
				Summary: "Ray Serve HPA cato-orchestrator-hpa: max 50 → 200",
				Changes: []actions.Change{{Field: "hpa_max", From: "50", To: "200"}},
				Params:  map[string]string{ParamHPAMax: "200"},
			},
			wantPatch: `{"spec":{"maxReplicas":200}}`,
			wantRes:   "HPA cato-orchestrator-hpa now allows 5–200 replicas",
		},
		{
			name: "max and min", args: []string{"min=10", "max=100"},
			wantPlan: actions.Plan{
				Summary: "Ray Serve HPA cato-orchestrator-hpa: max 50 → 100, min 5 → 10",
				Changes: []actions.Change{
					{Field: "hpa_max", From: "50", To: "100"}, {Field: "hpa_min", From: "5", To: "10"},
				},
				Params: map[string]string{ParamHPAMax: "100", ParamHPAMin: "10"},
			},
			wantPatch: `{"spec":{"maxReplicas":100,"minReplicas":10}}`,
			wantRes:   "HPA cato-orchestrator-hpa now allows 10–100 replicas",
		},
		{
			name: "lower max below current", args: []string{"max=20"},
			wantPlan: actions.Plan{
				Summary:  "Ray Serve HPA cato-orchestrator-hpa: max 50 → 20",
				Changes:  []actions.Change{{Field: "hpa_max", From: "50", To: "20"}},
				Params:   map[string]string{ParamHPAMax: "20"},
				Warnings: []string{"the HPA will scale Ray Serve down from 30 to 20 replicas"},
			},
			wantPatch: `{"spec":{"maxReplicas":20}}`,
			wantRes:   "HPA cato-orchestrator-hpa now allows 5–20 replicas",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, 30, 30, 5, 50, false)

			p, err := f.act.Plan(ctx, req(actions.VerbHPA, tt.args...))
			require.NoError(t, err)
			want := tt.wantPlan
			want.Component, want.Verb, want.Target = actions.Ray, actions.VerbHPA, "cato/cato-orchestrator-hpa"
			if diff := cmp.Diff(p, want); diff != "" {
				t.Fatalf("plan mismatch (-got +want):\n%s", diff)
			}

			res, err := f.act.Run(ctx, p, nil)
			require.NoError(t, err)
			require.Equal(t, tt.wantRes, res.Summary)
			muts := f.fake.Mutations()
			require.Len(t, muts, 1)
			require.Equal(t, "patch", muts[0].Verb)
			require.Equal(t, "application/merge-patch+json", muts[0].ContentType)
			require.JSONEq(t, tt.wantPatch, string(muts[0].Body))

			followed, err := f.act.Follow(ctx, p, nil)
			require.NoError(t, err)
			require.Equal(t, tt.wantRes, followed.Summary)
		})
	}
}

func TestHPAUsage(t *testing.T) {
	usage := "hpa ray takes max=N and/or min=N, such as max=200 or max=200 min=10"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "nothing", args: nil, want: usage},
		{name: "bare number", args: []string{"200"}, want: usage},
		{name: "unknown key", args: []string{"limit=200"}, want: usage},
		{name: "not whole", args: []string{"max=2.5"}, want: `max="2.5" is not a whole number of replicas`},
		{name: "zero", args: []string{"min=0"}, want: "min=0 is outside the allowed 1–200 replicas"},
		{name: "above limit", args: []string{"max=500"}, want: "max=500 is outside the allowed 1–200 replicas"},
		{name: "twice", args: []string{"max=60", "max=70"}, want: "max is given twice"},
		{name: "min above max", args: []string{"min=60", "max=50"}, want: "min (60) must not be above max (50)"},
		{name: "min above current max", args: []string{"min=60"}, want: "min (60) must not be above max (50)"},
		{name: "unchanged", args: []string{"max=50", "min=5"},
			want: "the HPA cato-orchestrator-hpa already allows 5–50 replicas; nothing to change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 10, 10, 5, 50, false)
			_, err := f.act.Plan(context.Background(), req(actions.VerbHPA, tt.args...))
			require.Error(t, err)
			require.Equal(t, actions.KindUsage, actions.KindOf(err))
			require.Equal(t, tt.want, actions.Explain(err))
		})
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name     string
		fault    kubefake.Fault
		noHPA    bool
		verb     string
		args     []string
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "deployment not found", fault: kubefake.Fault{Verb: "get", Resource: kubefake.Scale, Code: 404},
			verb: actions.VerbScale, args: []string{"20"}, wantKind: actions.KindNotFound,
			wantMsg: "deployment cato/cato-orchestrator was not found in the cluster",
		},
		{
			name: "hpa not found", noHPA: true, verb: actions.VerbHPA, args: []string{"max=100"},
			wantKind: actions.KindNotFound,
			wantMsg:  "HPA cato/cato-orchestrator-hpa was not found in the cluster",
		},
		{
			name: "scale forbidden", fault: kubefake.Fault{Verb: "update", Resource: kubefake.Scale, Code: 403},
			verb: actions.VerbScale, args: []string{"20"}, wantKind: actions.KindRefused,
			wantMsg: `Kubernetes refused to let the bot update deployments/scale in namespace cato (forbidden); ` +
				`its service account needs the "update" permission on deployments/scale`,
		},
		{
			name: "hpa patch forbidden", fault: kubefake.Fault{Verb: "patch", Resource: kubefake.HPAs, Code: 403},
			verb: actions.VerbHPA, args: []string{"max=100"}, wantKind: actions.KindRefused,
			wantMsg: `Kubernetes refused to let the bot patch horizontalpodautoscalers in namespace cato ` +
				`(forbidden); its service account needs the "patch" permission on horizontalpodautoscalers`,
		},
		{
			name:  "conflict that never clears",
			fault: kubefake.Fault{Verb: "update", Resource: kubefake.Scale, Code: 409, Times: 100},
			verb:  actions.VerbScale, args: []string{"20"}, wantKind: actions.KindBusy,
			wantMsg: "deployment cato/cato-orchestrator kept changing while the bot tried to update it; try again",
		},
		{
			name: "unavailable", fault: kubefake.Fault{Verb: "get", Resource: kubefake.Scale, Code: 503},
			verb: actions.VerbScale, args: []string{"20"}, wantKind: actions.KindUnavailable,
			wantMsg: "the Kubernetes API did not answer the bot's request to get deployment " +
				"cato/cato-orchestrator; try again later",
		},
		{
			name: "timeout", fault: kubefake.Fault{Verb: "patch", Resource: kubefake.HPAs, Code: 504},
			verb: actions.VerbHPA, args: []string{"max=100"}, wantKind: actions.KindUnavailable,
			wantMsg: "the Kubernetes API did not answer the bot's request to patch HPA " +
				"cato/cato-orchestrator-hpa; try again later",
		},
		{
			name: "internal error", fault: kubefake.Fault{Verb: "update", Resource: kubefake.Scale, Code: 500},
			verb: actions.VerbScale, args: []string{"20"}, wantKind: actions.KindUnavailable,
			wantMsg: "the Kubernetes API did not answer the bot's request to update deployment " +
				"cato/cato-orchestrator; try again later",
		},
		{
			name: "invalid hpa", fault: kubefake.Fault{Verb: "patch", Resource: kubefake.HPAs, Code: 422},
			verb: actions.VerbHPA, args: []string{"max=100"}, wantKind: actions.KindRefused,
			wantMsg: `Kubernetes rejected the change to HPA cato/cato-orchestrator-hpa: ` +
				`horizontalpodautoscalers.autoscaling "cato-orchestrator-hpa" is invalid`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var f fixture
			if tt.noHPA {
				f = newFixture(t, 10, 10, 0, 0, false)
			} else {
				f = newFixture(t, 10, 10, 5, 50, false)
			}
			var err error
			p, err := f.act.Plan(ctx, req(tt.verb, tt.args...))
			if err == nil {
				f.fake.Fail(tt.fault)
				_, err = f.act.Run(ctx, p, nil)
			} else if tt.fault.Verb == "get" {
				t.Fatalf("plan failed before the fault was set: %v", err)
			}
			if tt.fault.Verb == "get" {
				f.fake.Fail(tt.fault)
				_, err = f.act.Plan(ctx, req(tt.verb, tt.args...))
			}
			require.Error(t, err)
			require.Equal(t, tt.wantKind, actions.KindOf(err), "error: %v", err)
			require.Equal(t, tt.wantMsg, actions.Explain(err))
		})
	}
}

func TestConflictIsRetried(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10, 10, 5, 50, false)
	p, err := f.act.Plan(ctx, req(actions.VerbScale, "20"))
	require.NoError(t, err)

	f.fake.Fail(kubefake.Fault{Verb: "update", Resource: kubefake.Scale, Code: 409, Times: 2})
	_, err = f.act.Run(ctx, p, nil)
	require.NoError(t, err)
	require.Equal(t, 3, f.fake.Count("update", kubefake.Scale))
	d, _ := f.fake.Deployment(ns, dep)
	require.Equal(t, int32(20), *d.Spec.Replicas)
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10, 10, 5, 50, true)
	f.fake.SetImage(ns, dep, "cato/cato-orchestrator:2.0")

	tests := []struct {
		name string
		req  actions.Request
		want string
	}{
		{name: "scale", req: req(actions.VerbScale, "40"),
			want: "dry run: would call UpdateScale on deployments/scale cato/cato-orchestrator with spec.replicas=40"},
		{name: "scale above hpa max", req: req(actions.VerbScale, "100"),
			want: `dry run: would call Patch (merge) on horizontalpodautoscalers cato/cato-orchestrator-hpa ` +
				`with {"spec":{"maxReplicas":100}} when its max is lower, then UpdateScale on ` +
				`deployments/scale cato/cato-orchestrator with spec.replicas=100`},
		{name: "hpa", req: req(actions.VerbHPA, "max=200", "min=10"),
			want: `dry run: would call Patch (merge) on horizontalpodautoscalers cato/cato-orchestrator-hpa ` +
				`with {"spec":{"maxReplicas":200,"minReplicas":10}}`},
		{name: "rollback", req: req(actions.VerbRollback),
			want: "dry run: would call Update on deployments cato/cato-orchestrator with the pod template " +
				"of revision 1 (ReplicaSet " + f.fake.ReplicaSetsOf(ns)[0].Name + "), replacing revision 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.fake.ResetCalls()
			p, err := f.act.Plan(ctx, tt.req)
			require.NoError(t, err)
			res, err := f.act.Run(ctx, p, nil)
			require.NoError(t, err)
			require.True(t, res.DryRun)
			require.Equal(t, tt.want, res.Summary)
			require.Empty(t, f.fake.Mutations())
		})
	}
}

func TestRollbackOnFake(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 4, 4, 1, 10, false)
	require.True(t, f.fake.SetImage(ns, dep, "cato/cato-orchestrator:2.0"))

	p, err := f.act.Plan(ctx, req(actions.VerbRollback))
	require.NoError(t, err)
	require.Equal(t, "Ray Serve: roll cato-orchestrator back from revision 2 to revision 1", p.Summary)
	require.Equal(t, []actions.Change{
		{Field: "revision", From: "2", To: "1"},
		{Field: "image", From: "cato/cato-orchestrator:2.0", To: "cato/cato-orchestrator:1.0"},
	}, p.Changes)

	var rec recorder
	res, err := f.act.Run(ctx, p, rec.progress)
	require.NoError(t, err)
	require.Equal(t, "cato/cato-orchestrator is rolled back to the pod template of revision 1 (now revision 3); "+
		"4/4 replicas ready", res.Summary)
	lines := rec.all()
	require.NotEmpty(t, lines)
	require.Equal(t, "Ray Serve: 4/4 replicas updated, 4/4 ready", lines[len(lines)-1])

	d, _ := f.fake.Deployment(ns, dep)
	require.Equal(t, "cato/cato-orchestrator:1.0", d.Spec.Template.Spec.Containers[0].Image)
	require.Equal(t, "3", d.Annotations[RevisionAnnotation])
	_, hashed := d.Spec.Template.Labels["pod-template-hash"]
	require.False(t, hashed, "the pod-template-hash label must not be copied into the deployment")

	// Running the same plan again is refused: the deployment moved on.
	_, err = f.act.Run(ctx, p, nil)
	require.Equal(t, actions.KindBusy, actions.KindOf(err))
	require.Equal(t, "deployment cato/cato-orchestrator is at revision 3 now, not 2 as in the preview; "+
		"ask for a fresh preview", actions.Explain(err))
}

func TestRollbackRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*kubefake.Server)
		want  string
	}{
		{
			name:  "no earlier revision",
			setup: func(*kubefake.Server) {},
			want:  "deployment cato/cato-orchestrator has no earlier revision to roll back to (current revision: 1); nothing changes",
		},
		{
			name: "paused",
			setup: func(s *kubefake.Server) {
				s.SetImage(ns, dep, "cato/cato-orchestrator:2.0")
				s.SetPaused(ns, dep, true)
			},
			want: "deployment cato/cato-orchestrator is paused, and a paused deployment cannot be rolled back; " +
				"resume it first (kubectl rollout resume deployment/cato-orchestrator -n cato) and try again",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 3, 3, 1, 10, false)
			tt.setup(f.fake)
			f.fake.ResetCalls()
			_, err := f.act.Plan(context.Background(), req(actions.VerbRollback))
			require.Error(t, err)
			require.Equal(t, actions.KindRefused, actions.KindOf(err))
			require.Equal(t, tt.want, actions.Explain(err))
			require.Empty(t, f.fake.Mutations())
		})
	}
}

func TestFollowTimesOutAsProgressing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10, 10, 1, 200, false)
	f.act.cfg.WaitTimeout = 50 * time.Millisecond
	f.fake.HoldRollout(ns, dep, true)

	p, err := f.act.Plan(ctx, req(actions.VerbScale, "30"))
	require.NoError(t, err)
	var rec recorder
	res, err := f.act.Run(ctx, p, rec.progress)
	require.NoError(t, err)
	require.Equal(t, "cato/cato-orchestrator is still progressing after 50ms: 10/30 replicas ready, "+
		"10 updated; check it with /cato status ray", res.Summary)
	require.Equal(t, []string{"Ray Serve: 10/30 replicas ready"}, rec.all(), "a line only when it changes")

	// Follow, as after a restart, picks the rollout up and sees it end.
	f.act.cfg.WaitTimeout = time.Minute
	f.fake.HoldRollout(ns, dep, false)
	res, err = f.act.Follow(ctx, p, nil)
	require.NoError(t, err)
	require.Equal(t, "cato/cato-orchestrator now has 30/30 replicas ready", res.Summary)
}

func TestFollowStopsWithContext(t *testing.T) {
	f := newFixture(t, 10, 10, 1, 200, false)
	f.fake.HoldRollout(ns, dep, true)
	p, err := f.act.Plan(context.Background(), req(actions.VerbScale, "30"))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	_, err = f.act.Run(ctx, p, func(string) { cancel() })
	require.Error(t, err)
	require.Equal(t, actions.KindUnavailable, actions.KindOf(err))
	require.Equal(t, "stopped following the rollout of cato/cato-orchestrator before it finished",
		actions.Explain(err))
}

func TestStatus(t *testing.T) {
	f := newFixture(t, 10, 7, 5, 50, false)
	f.fake.HoldRollout(ns, dep, true)
	st, err := f.act.Status(context.Background())
	require.NoError(t, err)
	want := actions.Status{
		Component: actions.Ray, Title: "Ray Serve", Target: target, State: "Progressing",
		Fields: []actions.Field{
			{Name: "desired replicas", Value: "10"},
			{Name: "ready replicas", Value: "7"},
			{Name: "updated replicas", Value: "7"},
			{Name: "available replicas", Value: "7"},
			{Name: "revision", Value: "1"},
			{Name: "paused", Value: "false"},
			{Name: "hpa min replicas", Value: "5"},
			{Name: "hpa max replicas", Value: "50"},
			{Name: "hpa current replicas", Value: "10"},
			{Name: "hpa desired replicas", Value: "10"},
			{Name: "pods", Value: "10 (7 Running, 3 Pending)"},
		},
	}
	if diff := cmp.Diff(st, want); diff != "" {
		t.Fatalf("status mismatch (-got +want):\n%s", diff)
	}

	f.fake.HoldRollout(ns, dep, false)
	f.fake.SetDeployment(ns, dep, 10, 10)
	st, err = f.act.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, "Ready", st.State)
}

func TestWrongPlanRefused(t *testing.T) {
	f := newFixture(t, 10, 10, 1, 200, false)
	_, err := f.act.Run(context.Background(), actions.Plan{Component: actions.Ray, Verb: actions.VerbScale,
		Target: "other/deployment", Params: map[string]string{ParamReplicas: "5"}}, nil)
	require.Equal(t, actions.KindUsage, actions.KindOf(err))
	require.Empty(t, f.fake.Mutations())

	_, err = f.act.Plan(context.Background(), req("restart"))
	require.Equal(t, `ray supports scale, hpa and rollback, not "restart"`, actions.Explain(err))
}

// TestErrorsCarryNoSecret sends a wrong token and checks that neither it nor the right one
// reaches the error a person or a log reads.
func TestErrorsCarryNoSecret(t *testing.T) {
	const good, bad = "kube-token-GOOD-5e1c7a", "kube-token-BAD-9f3b2d"
	fake := kubefake.New(kubefake.Options{Token: good})
	t.Cleanup(fake.Close)
	fake.SetDeployment(ns, dep, 10, 10)
	cfg := fake.RESTConfig()
	cfg.BearerToken = bad
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	act, err := New(testConfig(), client, Options{})
	require.NoError(t, err)

	_, err = act.Status(context.Background())
	require.Error(t, err)
	require.Equal(t, actions.KindRefused, actions.KindOf(err))
	require.Equal(t, "Kubernetes did not accept the bot's credentials (unauthorized) when it tried to get "+
		"deployment cato/cato-orchestrator", actions.Explain(err))
	for _, text := range []string{err.Error(), actions.Explain(err)} {
		require.False(t, strings.Contains(text, good) || strings.Contains(text, bad), "secret in %q", text)
	}
}

func TestUnreadableHPADegrades(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10, 10, 5, 50, false)
	f.fake.Fail(kubefake.Fault{Verb: "get", Resource: kubefake.HPAs, Code: 403, Times: 2})

	st, err := f.act.Status(ctx)
	require.NoError(t, err)
	require.Contains(t, st.Fields, actions.Field{Name: "hpa", Value: "unreadable: Kubernetes refused to let the " +
		`bot get horizontalpodautoscalers in namespace cato (forbidden); its service account needs the "get" ` +
		"permission on horizontalpodautoscalers"})

	p, err := f.act.Plan(ctx, req(actions.VerbScale, "100"))
	require.NoError(t, err)
	require.Len(t, p.Warnings, 1)
	require.True(t, strings.HasPrefix(p.Warnings[0], "the bot could not read the HPA cato-orchestrator-hpa ("))
	require.Empty(t, p.Extra)
}
