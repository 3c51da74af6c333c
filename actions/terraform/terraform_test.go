package terraform

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
)

// tofuVersion is the OpenTofu that scripts/build-tofu.sh builds.
const tofuVersion = "v1.12.6"

// tofuBinary returns the OpenTofu binary for the tests: $CATOBOT_TOFU, or the one
// scripts/build-tofu.sh leaves in the tools cache. Without it the test is skipped, except in
// CI, where it fails.
func tofuBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CATOBOT_TOFU")
	if bin == "" {
		root := os.Getenv("CATOBOT_TOOLS_DIR")
		if root == "" {
			home, _ := os.UserHomeDir()
			root = filepath.Join(home, ".cache", "catobot-tools")
		}
		bin = filepath.Join(root, "tofu-"+tofuVersion, "tofu")
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "OpenTofu not found at " + bin + "; run scripts/build-tofu.sh or set CATOBOT_TOFU"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// isolate keeps OpenTofu and git away from the network and from the machine's own settings:
// an empty CLI configuration, no checkpoint, a private plugin cache, a proxy on a closed
// loopback port so that any attempt to reach a registry fails at once, and git without system
// or global configuration.
func isolate(t *testing.T) {
	t.Helper()
	tmp := t.TempDir()
	rc := filepath.Join(tmp, "tofurc")
	require.NoError(t, os.WriteFile(rc, []byte("disable_checkpoint = true\n"), 0o600))
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	t.Setenv("TF_PLUGIN_CACHE_DIR", filepath.Join(tmp, "plugins"))
	require.NoError(t, os.Mkdir(filepath.Join(tmp, "plugins"), 0o700))
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:9")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:9")
	t.Setenv("NO_PROXY", "")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(tmp, "gitconfig"))
}

// gitRun runs git with argv in dir.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// repo copies testdata/production into a new git repository at the runbook's path and
// commits its tfvars twice: first testdata's values, then terraform.tfvars.next. With
// commits == 1 only the first commit is made. It returns the working directory.
func repo(t *testing.T, commits int) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, filepath.FromSlash(defaultDir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range []string{"main.tf", "terraform.tfvars"} {
		b, err := os.ReadFile(filepath.Join("testdata", "production", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, ".gitignore"),
		[]byte("terraform.tfstate*\n.terraform/\n"), 0o644))

	gitRun(t, root, "init", "-q", "-b", "main")
	gitRun(t, root, "config", "user.name", "Test")
	gitRun(t, root, "config", "user.email", "test@example.invalid")
	gitRun(t, root, "add", ".")
	gitRun(t, root, "commit", "-q", "-m", "first tfvars")
	if commits > 1 {
		b, err := os.ReadFile(filepath.Join("testdata", "terraform.tfvars.next"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "terraform.tfvars"), b, 0o644))
		gitRun(t, root, "commit", "-q", "-am", "second tfvars")
	}
	return dir
}

// newAction returns an action on dir running bin, with plans kept in a test folder.
func newAction(t *testing.T, dir, bin string, dryRun bool) *Action {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Binary = bin
	cfg.PlanDir = filepath.Join(t.TempDir(), "plans")
	a, err := New(cfg, Options{DryRun: dryRun})
	require.NoError(t, err)
	return a
}

// outputs reads the configuration's outputs from the state.
func outputs(t *testing.T, dir, bin string) map[string]string {
	t.Helper()
	tf, err := tfexec.NewTerraform(dir, bin)
	require.NoError(t, err)
	out, err := tf.Output(context.Background())
	require.NoError(t, err)
	m := map[string]string{}
	for k, v := range out {
		m[k] = string(v.Value)
	}
	return m
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

// apply plans req and applies the plan.
func apply(t *testing.T, a *Action, args ...string) (actions.Plan, actions.Result) {
	t.Helper()
	ctx := context.Background()
	p, err := a.Plan(ctx, actions.Request{Component: actions.Terraform, Verb: VerbApply, Args: args})
	require.NoError(t, err)
	res, err := a.Run(ctx, p, nil)
	require.NoError(t, err)
	return p, res
}

func TestStatus(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	dir := repo(t, 2)
	a := newAction(t, dir, bin, false)
	ctx := context.Background()

	st, err := a.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "ready", st.State)
	require.Equal(t, "Terraform", st.Title)
	require.Contains(t, st.Fields, actions.Field{Name: "resources", Value: "0"})
	require.Contains(t, st.Fields, actions.Field{Name: "binary", Value: "OpenTofu 1.12.6"})

	apply(t, a)
	st, err = a.Status(ctx)
	require.NoError(t, err)
	require.Contains(t, st.Fields, actions.Field{Name: "resources", Value: "3"})
	names := map[string]bool{}
	for _, f := range st.Fields {
		names[f.Name] = true
	}
	require.True(t, names["last plan"] && names["last apply"], "fields: %v", st.Fields)
}

func TestInitWhenNeeded(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	dir := repo(t, 2)
	// A backend block needs init before anything reads the state.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "backend.tf"),
		[]byte("terraform {\n  backend \"local\" {}\n}\n"), 0o644))
	a := newAction(t, dir, bin, false)
	ctx := context.Background()

	st, err := a.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "not initialised", st.State)
	require.Contains(t, st.Fields[0].Value, "is not initialised for Terraform; the next preview runs init")

	apply(t, a)
	require.DirExists(t, filepath.Join(dir, ".terraform"))
	st, err = a.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "ready", st.State)
	require.Contains(t, st.Fields, actions.Field{Name: "resources", Value: "3"})
}

func TestPlanAndApply(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	dir := repo(t, 2)
	a := newAction(t, dir, bin, false)
	ctx := context.Background()
	apply(t, a)
	require.Equal(t, "10", outputs(t, dir, bin)["shadow_self_min_instances"])

	req := actions.Request{Component: actions.Terraform, Verb: VerbApply,
		Args: []string{"shadow_self_min_instances=50", "cache_node_type=cache.r7g.4xlarge"}}
	p, err := a.Plan(ctx, req)
	require.NoError(t, err)
	require.Equal(t, "Terraform: 0 to add, 2 to change, 0 to destroy "+
		"(shadow_self_min_instances=50 cache_node_type=cache.r7g.4xlarge)", p.Summary)
	want := []actions.Change{
		{Field: "terraform_data.cache", To: "update"},
		{Field: "terraform_data.shadow_self", To: "update"},
	}
	if diff := cmp.Diff(p.Changes, want); diff != "" {
		t.Errorf("changes mismatch (-got +want):\n%s", diff)
	}
	require.Equal(t, []string{"terraform_data.cache: update", "terraform_data.shadow_self: update"}, p.Warnings)
	require.False(t, p.Downtime)
	require.Equal(t, dir, p.Params[ParamDir])
	require.FileExists(t, p.Params[ParamPlanFile])
	info, err := os.Stat(p.Params[ParamPlanFile])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	var rec recorder
	res, err := a.Run(ctx, p, rec.progress)
	require.NoError(t, err)
	require.Equal(t, "Terraform applied: 0 added, 2 changed, 0 destroyed", res.Summary)
	require.Equal(t, "applying the saved plan…", rec.lines[0])
	require.Equal(t, "applied", rec.lines[len(rec.lines)-1])
	require.Contains(t, strings.Join(rec.lines, "\n"), "terraform_data.shadow_self: Modif")
	require.Equal(t, "50", outputs(t, dir, bin)["shadow_self_min_instances"])
	require.NoFileExists(t, p.Params[ParamPlanFile])

	// The runbook's 10M step, with the list typed with a space as in the runbook. A -var
	// value lasts for one apply only: the earlier step's values go back to the tfvars.
	p, err = a.Plan(ctx, actions.Request{Component: actions.Terraform, Verb: VerbApply, Args: []string{
		"enable_global_tables=true", `replica_regions=["eu-west-1",`, `"ap-northeast-1"]`}})
	require.NoError(t, err)
	require.Equal(t, `Terraform: 1 to add, 2 to change, 0 to destroy (enable_global_tables=true `+
		`replica_regions=["eu-west-1", "ap-northeast-1"])`, p.Summary)
	want = []actions.Change{
		{Field: "terraform_data.cache", To: "update"},
		{Field: "terraform_data.global_tables[0]", To: "create"},
		{Field: "terraform_data.shadow_self", To: "update"},
	}
	if diff := cmp.Diff(p.Changes, want); diff != "" {
		t.Errorf("changes mismatch (-got +want):\n%s", diff)
	}

	// The same values again: nothing to do.
	_, err = a.Plan(ctx, req)
	require.ErrorIs(t, err, ErrNoChanges)
	require.Equal(t, actions.KindUsage, actions.KindOf(err))
	require.Equal(t, "Terraform plan shows no changes: production already matches these values",
		actions.Explain(err))
}

func TestStalePlanRefused(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	dir := repo(t, 2)
	a := newAction(t, dir, bin, false)
	ctx := context.Background()
	apply(t, a)

	first, err := a.Plan(ctx, actions.Request{Component: actions.Terraform, Verb: VerbApply,
		Args: []string{"shadow_self_min_instances=50"}})
	require.NoError(t, err)
	apply(t, a, "shadow_self_min_instances=60")

	_, err = a.Run(ctx, first, nil)
	require.Error(t, err)
	require.Equal(t, actions.KindBusy, actions.KindOf(err))
	require.Equal(t, "the plan is stale: the Terraform state changed since this preview; ask for a "+
		"fresh preview", actions.Explain(err))
	require.Equal(t, "60", outputs(t, dir, bin)["shadow_self_min_instances"])
	require.NoFileExists(t, first.Params[ParamPlanFile])

	_, err = a.Run(ctx, first, nil)
	require.Equal(t, actions.KindNotFound, actions.KindOf(err))
	require.Contains(t, actions.Explain(err), "the saved plan of this preview is gone")
}

func TestSavedPlanChecked(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	dir := repo(t, 2)
	a := newAction(t, dir, bin, false)
	ctx := context.Background()
	p, err := a.Plan(ctx, actions.Request{Component: actions.Terraform, Verb: VerbApply})
	require.NoError(t, err)

	tests := []struct {
		name string
		edit func(p *actions.Plan)
		kind actions.Kind
		want string
	}{
		{name: "file changed", kind: actions.KindRefused,
			edit: func(p *actions.Plan) { p.Params[ParamPlanSHA256] = strings.Repeat("0", 64) },
			want: "the saved plan file changed since the preview, so it is not applied; ask for a fresh preview"},
		{name: "file elsewhere", kind: actions.KindInternal,
			edit: func(p *actions.Plan) { p.Params[ParamPlanFile] = "/etc/passwd" },
			want: `this step names no saved plan of the bot's ("/etc/passwd")`},
		{name: "other directory", kind: actions.KindInternal,
			edit: func(p *actions.Plan) { p.Params[ParamDir] = "/srv/other" },
			want: "this plan was made in /srv/other, not " + dir},
		{name: "other component", kind: actions.KindInternal,
			edit: func(p *actions.Plan) { p.Component = actions.Shadow },
			want: "this step is apply shadow, not a Terraform plan"},
		{name: "bad variable", kind: actions.KindInternal,
			edit: func(p *actions.Plan) { p.Params[ParamVars] = "x=${file(\"/etc/passwd\")}" },
			want: "this step's variables are not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.Params = map[string]string{}
			for k, v := range p.Params {
				q.Params[k] = v
			}
			tt.edit(&q)
			_, err := a.Run(ctx, q, nil)
			require.Error(t, err)
			require.Equal(t, tt.kind, actions.KindOf(err))
			require.Contains(t, actions.Explain(err), tt.want)
		})
	}
	require.FileExists(t, p.Params[ParamPlanFile])
}

func TestRollback(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	dir := repo(t, 2)
	a := newAction(t, dir, bin, false)
	ctx := context.Background()
	apply(t, a)
	before, err := os.ReadFile(filepath.Join(dir, "terraform.tfvars"))
	require.NoError(t, err)
	prev := gitRun(t, dir, "rev-parse", "--short", "HEAD~1")

	p, err := a.Plan(ctx, actions.Request{Component: actions.Terraform, Verb: actions.VerbRollback})
	require.NoError(t, err)
	require.Equal(t, "Terraform rollback to the tfvars of "+prev+": 0 to add, 2 to change, 0 to destroy",
		p.Summary)
	require.Equal(t, prev, p.Params[ParamRollbackFrom])
	require.Equal(t, []string{
		"terraform_data.cache: update",
		"terraform_data.shadow_self: update",
		"ray_min_replicas set now but not in " + prev + ": the rollback keeps the current value; " +
			"remove it from the tfvars by hand if it should go back to its default",
	}, p.Warnings)

	// The preview touched nothing in the working tree.
	now, err := os.ReadFile(filepath.Join(dir, "terraform.tfvars"))
	require.NoError(t, err)
	require.Equal(t, string(before), string(now))
	require.Empty(t, gitRun(t, dir, "status", "--porcelain"))

	res, err := a.Run(ctx, p, nil)
	require.NoError(t, err)
	require.Equal(t, "Terraform applied: 0 added, 2 changed, 0 destroyed", res.Summary)
	require.Equal(t, "5", outputs(t, dir, bin)["shadow_self_min_instances"])
	require.NoDirExists(t, filepath.Dir(strings.Split(p.Params[ParamVarFiles], "\n")[0]))
}

func TestRollbackRefused(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	ctx := context.Background()
	rollback := actions.Request{Component: actions.Terraform, Verb: actions.VerbRollback}

	one := repo(t, 1)
	noGit := t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", "production", "main.tf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(noGit, "main.tf"), b, 0o644))
	same := repo(t, 2)
	gitRun(t, same, "commit", "-q", "--allow-empty", "-m", "no tfvars change")
	noVars := repo(t, 2)
	gitRun(t, noVars, "mv", "terraform.tfvars", "production.tfvars")
	gitRun(t, noVars, "commit", "-q", "-m", "rename")
	gitRun(t, noVars, "commit", "-q", "--allow-empty", "-m", "later")

	tests := []struct {
		name string
		dir  string
		args []string
		kind actions.Kind
		want string
	}{
		{name: "one commit", dir: one, kind: actions.KindRefused,
			want: "has no commit before the current one, so there is nothing to roll back to"},
		{name: "not a repository", dir: noGit, kind: actions.KindRefused,
			want: "is not in a git repository"},
		{name: "same tfvars", dir: same, kind: actions.KindUsage,
			want: "are the same as in the previous commit"},
		{name: "no loaded tfvars", dir: noVars, kind: actions.KindRefused,
			want: "has no variable files matching *.tfvars that Terraform loads"},
		{name: "arguments", dir: one, args: []string{"5"}, kind: actions.KindUsage,
			want: "rollback terraform takes no values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAction(t, tt.dir, bin, false)
			req := rollback
			req.Args = tt.args
			_, err := a.Plan(ctx, req)
			require.Error(t, err)
			require.Equal(t, tt.kind, actions.KindOf(err), "%v", err)
			require.Contains(t, actions.Explain(err), tt.want)
			entries, _ := os.ReadDir(a.cfg.PlanDir)
			require.Empty(t, entries, "no plan or variable files left behind")
		})
	}
}

func TestDryRunAppliesNothing(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	dir := repo(t, 2)
	apply(t, newAction(t, dir, bin, false))

	a := newAction(t, dir, bin, true)
	p, err := a.Plan(context.Background(), actions.Request{Component: actions.Terraform, Verb: VerbApply,
		Args: []string{"shadow_self_min_instances=50"}})
	require.NoError(t, err)
	res, err := a.Run(context.Background(), p, nil)
	require.NoError(t, err)
	require.True(t, res.DryRun)
	require.Equal(t, "dry run: would run tofu apply "+p.Params[ParamPlanFile]+" in "+dir+
		" (0 to add, 1 to change, 0 to destroy)", res.Summary)
	require.Equal(t, "10", outputs(t, dir, bin)["shadow_self_min_instances"])
}

func TestErrorsCarryNoSecret(t *testing.T) {
	bin := tofuBinary(t)
	isolate(t)
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY"
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	dir := repo(t, 2)
	a := newAction(t, dir, bin, false)

	// The configuration's validation message quotes the value it was given.
	_, err := a.Plan(context.Background(), actions.Request{Component: actions.Terraform, Verb: VerbApply,
		Args: []string{"cache_node_type=" + secret}})
	require.Error(t, err)
	require.Equal(t, actions.KindRefused, actions.KindOf(err))
	require.Contains(t, actions.Explain(err), "terraform plan failed: Invalid value for variable")
	require.Contains(t, actions.Explain(err), "[redacted]")
	require.NotContains(t, err.Error(), secret)
	require.NotContains(t, actions.Explain(err), secret)
}

func TestMissingBinaryOrDir(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "bin", "tofu")
	ctx := context.Background()

	a := newAction(t, dir, missing, false)
	st, err := a.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "binary missing", st.State)
	want := `the Terraform binary "` + missing + `" was not found where the bot runs; install it or set ` +
		"binary in the terraform config"
	require.Equal(t, []actions.Field{{Name: "problem", Value: want}}, st.Fields)
	_, err = a.Plan(ctx, actions.Request{Component: actions.Terraform, Verb: VerbApply,
		Args: []string{"shadow_self_min_instances=50"}})
	require.Equal(t, actions.KindUnavailable, actions.KindOf(err))
	require.Equal(t, want, actions.Explain(err))

	a = newAction(t, filepath.Join(dir, "nope"), "git", false)
	st, err = a.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "directory missing", st.State)
	_, err = a.Plan(ctx, actions.Request{Component: actions.Terraform, Verb: actions.VerbRollback})
	require.Equal(t, actions.KindNotFound, actions.KindOf(err))
	require.Contains(t, actions.Explain(err), "does not exist where the bot runs")
}

func TestBadRequests(t *testing.T) {
	a := newAction(t, t.TempDir(), filepath.Join(t.TempDir(), "tofu"), false)
	tests := []struct {
		name string
		verb string
		args []string
		want string
	}{
		{name: "verb", verb: actions.VerbScale, args: []string{"5"},
			want: `terraform can be applied or rolled back, not "scale"`},
		{name: "no equals", verb: VerbApply, args: []string{"50"},
			want: `"50" is not name=value`},
		{name: "digit first", verb: VerbApply, args: []string{"1cache=5"},
			want: `"1cache" is not a Terraform variable name`},
		{name: "dotted name", verb: VerbApply, args: []string{"var.cache=5"},
			want: `"var.cache" is not a Terraform variable name`},
		{name: "flag as name", verb: VerbApply, args: []string{"-destroy=true"},
			want: `"-destroy" is not a Terraform variable name`},
		{name: "empty value", verb: VerbApply, args: []string{"cache_node_type="},
			want: "variable cache_node_type has no value"},
		{name: "quoted", verb: VerbApply, args: []string{`cache_node_type="cache.r7g.large"`},
			want: "write the value of cache_node_type without quotes"},
		{name: "template", verb: VerbApply, args: []string{`x=${file("/etc/passwd")}`},
			want: "the value of x may be a word"},
		{name: "function in list", verb: VerbApply, args: []string{`x=["a",file("k")]`},
			want: `the list given for x may hold only quoted words`},
		{name: "template in list", verb: VerbApply, args: []string{`x=["${path.module}"]`},
			want: `the list given for x may hold only quoted words`},
		{name: "bare word in list", verb: VerbApply, args: []string{`x=[eu-west-1]`},
			want: `the list given for x may hold only quoted words`},
		{name: "twice", verb: VerbApply, args: []string{"a=1", "a=2"},
			want: "variable a is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Plan(context.Background(), actions.Request{Component: actions.Terraform,
				Verb: tt.verb, Args: tt.args})
			require.Error(t, err)
			require.Equal(t, actions.KindUsage, actions.KindOf(err))
			require.Contains(t, actions.Explain(err), tt.want)
		})
	}
}

func TestParseVars(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "runbook 1m", args: []string{"shadow_self_min_instances=50", "cache_node_type=cache.r7g.2xlarge"},
			want: []string{"shadow_self_min_instances=50", "cache_node_type=cache.r7g.2xlarge"}},
		{name: "runbook 10m", args: []string{"enable_global_tables=true",
			`replica_regions=["eu-west-1","ap-northeast-1"]`},
			want: []string{"enable_global_tables=true", `replica_regions=["eu-west-1","ap-northeast-1"]`}},
		{name: "list split by spaces", args: []string{`regions=[`, `"a",`, `"b"`, `]`},
			want: []string{`regions=[ "a", "b" ]`}},
		{name: "chat quotes", args: []string{"regions=[\u201ceu-west-1\u201d]"},
			want: []string{`regions=["eu-west-1"]`}},
		{name: "empty list and numbers", args: []string{"a=[]", "b=[1, 2.5, true]", "c=-3"},
			want: []string{"a=[]", "b=[1, 2.5, true]", "c=-3"}},
		{name: "none", args: nil, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, err := parseVars(tt.args)
			require.NoError(t, err)
			got := []string{}
			for _, v := range vars {
				got = append(got, v.String())
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("vars mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestAssignedNames(t *testing.T) {
	tests := []struct {
		name string
		file string
		src  string
		want []string
		err  bool
	}{
		{name: "plain", file: "terraform.tfvars", src: "a = 1\nb=\"x\"\n", want: []string{"a", "b"}},
		{name: "nested objects and comments", file: "terraform.tfvars", src: `
# c = 1
tags = {
  env = "prod" // not = top level
  nested = { x = [1, 2] }
}
/* d = 2
*/
regions = [
  "eu-west-1", # e = 3
]
f = "a # b = c"
`, want: []string{"tags", "regions", "f"}},
		{name: "heredoc", file: "x.auto.tfvars", src: "doc = <<-EOT\n  g = 1\n  EOT\nh = true\n",
			want: []string{"doc", "h"}},
		{name: "json", file: "terraform.tfvars.json", src: `{"b": 1, "a": {"c": 2}}`, want: []string{"a", "b"}},
		{name: "unclosed", file: "terraform.tfvars", src: "a = {\n", err: true},
		{name: "unclosed string", file: "terraform.tfvars", src: "a = \"x\n", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := assignedNames(tt.file, []byte(tt.src))
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRedact(t *testing.T) {
	t.Setenv("CATOBOT_SLACK_BOT_TOKEN", "xoxb-123456-abcdef")
	t.Setenv("TF_VAR_db_password", "hunter2-hunter2")
	t.Setenv("SHORT_TOKEN", "abc")
	got := redact("token xoxb-123456-abcdef and hunter2-hunter2 and abc")
	require.Equal(t, "token [redacted] and [redacted] and abc", got)
	require.False(t, errors.Is(nil, ErrNoChanges))
}

func TestBusy(t *testing.T) {
	a := newAction(t, t.TempDir(), "git", false)
	a.busy.Lock()
	defer a.busy.Unlock()
	_, err := a.Plan(context.Background(), actions.Request{Component: actions.Terraform, Verb: VerbApply})
	require.Equal(t, actions.KindBusy, actions.KindOf(err))
	require.Contains(t, actions.Explain(err), "another Terraform plan or apply is running in")
}
