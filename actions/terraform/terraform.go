// Package terraform previews and applies the runbook's Terraform steps in the production
// working directory through hashicorp/terraform-exec, with either the terraform or the tofu
// binary. A preview runs init when the directory needs it and plan with the step's -var
// values, saves the plan and summarises it; confirming applies exactly that saved plan. The
// rollback plans with the previous commit's *.tfvars, as the runbook's git checkout HEAD~1
// does, without touching the working tree.
package terraform

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/thinktank/catobot/actions"
)

// VerbApply asks for a plan of the working directory with the request's name=value arguments
// as -var values, to be applied on confirmation.
const VerbApply = "apply"

// Plan parameters, set by Plan and read by Run.
const (
	// ParamDir is the absolute working directory the plan was made in.
	ParamDir = "dir"
	// ParamPlanFile is the saved plan.
	ParamPlanFile = "plan_file"
	// ParamPlanSHA256 is the saved plan's checksum; Run refuses a file that differs.
	ParamPlanSHA256 = "plan_sha256"
	// ParamVars are the -var values, one name=value a line.
	ParamVars = "vars"
	// ParamVarFiles are the -var-file paths of a rollback, one a line.
	ParamVarFiles = "var_files"
	// ParamCounts is "add,change,destroy" as planned.
	ParamCounts = "counts"
	// ParamRollbackFrom is the commit whose tfvars a rollback restores.
	ParamRollbackFrom = "rollback_from"
)

// ErrNoChanges is wrapped by the *actions.Error (kind KindUsage) that Plan returns when
// Terraform finds nothing to change, so that a caller running several steps can skip the step.
var ErrNoChanges = errors.New("terraform plan shows no changes")

// Preview limits: how many resource lines a summary lists, and how long unapplied saved plans
// are kept.
const (
	maxResourceLines = 8
	planMaxAge       = 24 * time.Hour
)

// planNameRe is the name of a saved plan this package wrote.
var planNameRe = regexp.MustCompile(`^[0-9a-f]{32}\.tfplan$`)

// Options are the action's process settings.
type Options struct {
	// DryRun makes Run apply nothing and say what it would have run. Previews still run
	// plan, which changes nothing.
	DryRun bool
	// Logger receives debug and warning lines; nil discards them.
	Logger *slog.Logger
	// Git is the git command rollback runs; empty means "git" on PATH.
	Git string
}

// Action plans and applies Terraform in one working directory. It implements actions.Action.
type Action struct {
	cfg  Config
	opts Options
	log  *slog.Logger

	// busy keeps two plans or applies of this directory from running at once.
	busy sync.Mutex

	mu        sync.Mutex
	lastPlan  time.Time
	lastApply time.Time
	tofu      map[string]bool // binary path → it is OpenTofu
}

var _ actions.Action = (*Action)(nil)

// New returns the action for cfg. It returns an error when cfg is not valid; a missing binary
// or directory is reported by Status and by each step instead, so that the bot can start.
func New(cfg Config, opts Options) (*Action, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("terraform config: %w", err)
	}
	if opts.Git == "" {
		opts.Git = "git"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", actions.Terraform, "dir", cfg.Dir)
	return &Action{cfg: cfg, opts: opts, log: log, tofu: map[string]bool{}}, nil
}

// Config returns the action's configuration.
func (a *Action) Config() Config { return a.cfg }

// Status reads the state in the working directory: how many resources it holds, which binary
// runs, and when the last preview was made. State is "ready", or says what is missing:
// "binary missing", "directory missing" or "not initialised".
func (a *Action) Status(ctx context.Context) (actions.Status, error) {
	st := actions.Status{Component: actions.Terraform, Title: "Terraform", Target: a.cfg.Dir}
	bin, err := a.binary()
	if err != nil {
		st.State = "binary missing"
		st.Fields = []actions.Field{{Name: "problem", Value: actions.Explain(err)}}
		return st, nil
	}
	dir, err := a.workDir()
	if err != nil {
		st.State = "directory missing"
		st.Fields = []actions.Field{{Name: "problem", Value: actions.Explain(err)}}
		return st, nil
	}

	ctx, cancel := context.WithTimeoutCause(ctx, a.cfg.PlanTimeout,
		fmt.Errorf("terraform show did not finish within plan_timeout (%s)", a.cfg.PlanTimeout))
	defer cancel()
	tf, err := a.terraform(dir, bin)
	if err != nil {
		return st, err
	}
	state, err := tf.Show(ctx)
	if err != nil {
		e := a.runError(ctx, "show", err, nil)
		if errors.Is(e, errNotInitialised) {
			st.State = "not initialised"
			st.Fields = []actions.Field{{Name: "problem", Value: actions.Explain(e)}}
			return st, nil
		}
		return st, e
	}

	st.State = "ready"
	add := func(name, value string) {
		st.Fields = append(st.Fields, actions.Field{Name: name, Value: value})
	}
	add("resources", strconv.Itoa(countResources(state)))
	if v, _, err := tf.Version(ctx, false); err == nil {
		add("binary", a.product(ctx, bin)+" "+v.String())
	}
	if _, err := os.Stat(filepath.Join(dir, ".terraform")); err != nil {
		add("initialised", "no .terraform folder; the next preview runs init")
	}
	a.mu.Lock()
	lastPlan, lastApply := a.lastPlan, a.lastApply
	a.mu.Unlock()
	if !lastPlan.IsZero() {
		add("last plan", lastPlan.UTC().Format(time.RFC3339))
	}
	if !lastApply.IsZero() {
		add("last apply", lastApply.UTC().Format(time.RFC3339))
	}
	return st, nil
}

// countResources counts the managed resources in state, in every module.
func countResources(state *tfjson.State) int {
	if state == nil || state.Values == nil {
		return 0
	}
	n := 0
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		if m == nil {
			return
		}
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode {
				n++
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(state.Values.RootModule)
	return n
}

// Plan runs terraform plan for an apply (Args are name=value variables) or a rollback (no
// Args: the previous commit's tfvars), saves the plan, and summarises what it changes.
func (a *Action) Plan(ctx context.Context, req actions.Request) (actions.Plan, error) {
	var vars []variable
	switch req.Verb {
	case VerbApply:
		var err error
		if vars, err = parseVars(req.Args); err != nil {
			return actions.Plan{}, err
		}
	case actions.VerbRollback:
		if len(req.Args) > 0 {
			return actions.Plan{}, actions.Usagef("rollback terraform takes no values; it restores the "+
				"previous commit's tfvars (got %s)", clip(strings.Join(req.Args, " ")))
		}
	default:
		return actions.Plan{}, actions.Usagef("terraform can be applied or rolled back, not %q: use "+
			"apply terraform name=value … or rollback terraform", req.Verb)
	}
	bin, err := a.binary()
	if err != nil {
		return actions.Plan{}, err
	}
	dir, err := a.workDir()
	if err != nil {
		return actions.Plan{}, err
	}
	if !a.busy.TryLock() {
		return actions.Plan{}, a.busyError()
	}
	defer a.busy.Unlock()

	ctx, cancel := context.WithTimeoutCause(ctx, a.cfg.PlanTimeout,
		fmt.Errorf("terraform plan did not finish within plan_timeout (%s); try again, or raise "+
			"plan_timeout", a.cfg.PlanTimeout))
	defer cancel()
	planDir, err := a.planDir()
	if err != nil {
		return actions.Plan{}, err
	}
	id, err := newID()
	if err != nil {
		return actions.Plan{}, err
	}
	planFile := filepath.Join(planDir, id+".tfplan")
	varsDir := filepath.Join(planDir, id+".vars")
	keep := false
	defer func() {
		if !keep {
			removePlan(planFile, varsDir)
		}
	}()

	var r restored
	if req.Verb == actions.VerbRollback {
		if r, err = a.restoreVarFiles(ctx, dir, varsDir); err != nil {
			return actions.Plan{}, err
		}
	}
	tf, err := a.terraform(dir, bin)
	if err != nil {
		return actions.Plan{}, err
	}
	if err := a.initIfNeeded(ctx, tf, dir); err != nil {
		return actions.Plan{}, err
	}

	a.log.DebugContext(ctx, "planning", "verb", req.Verb, "vars", len(vars), "var_files", len(r.Files))
	ui := &uiLog{}
	opts := []tfexec.PlanOption{tfexec.Out(planFile)}
	for _, f := range r.Files {
		opts = append(opts, tfexec.VarFile(f))
	}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v.String()))
	}
	changed, err := tf.PlanJSON(ctx, ui, opts...)
	if err != nil {
		return actions.Plan{}, a.runError(ctx, "plan", err, ui.errors())
	}
	a.mu.Lock()
	a.lastPlan = time.Now()
	a.mu.Unlock()
	if !changed {
		what := "production already matches these values"
		if req.Verb == actions.VerbRollback {
			what = "the previous commit's tfvars (" + r.Commit + ") give what is applied already"
		}
		return actions.Plan{}, &actions.Error{Kind: actions.KindUsage, Err: ErrNoChanges,
			Msg: "Terraform plan shows no changes: " + what}
	}
	if err := os.Chmod(planFile, 0o600); err != nil {
		return actions.Plan{}, fmt.Errorf("terraform plan: protect %s: %w", planFile, err)
	}

	tf.SetStdout(io.Discard)
	saved, err := tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		return actions.Plan{}, a.runError(ctx, "show", err, nil)
	}
	sum, err := fileSHA256(planFile)
	if err != nil {
		return actions.Plan{}, err
	}

	p := summarise(saved)
	p.Verb = req.Verb
	p.Target = a.cfg.Dir
	p.Params = map[string]string{
		ParamDir:        dir,
		ParamPlanFile:   planFile,
		ParamPlanSHA256: sum,
		ParamCounts:     p.Params[ParamCounts],
	}
	if len(vars) > 0 {
		lines := make([]string, len(vars))
		for i, v := range vars {
			lines[i] = v.String()
		}
		p.Params[ParamVars] = strings.Join(lines, "\n")
		p.Summary += " (" + strings.Join(lines, " ") + ")"
	}
	if req.Verb == actions.VerbRollback {
		p.Params[ParamVarFiles] = strings.Join(r.Files, "\n")
		p.Params[ParamRollbackFrom] = r.Commit
		p.Summary = strings.Replace(p.Summary, "Terraform:", "Terraform rollback to the tfvars of "+
			r.Commit+":", 1)
		p.Warnings = append(p.Warnings, r.Warnings...)
	}
	keep = true
	return p, nil
}

// summarise turns a saved plan into the preview: counts in Summary, the changed resources as
// Changes (address → action), and up to maxResourceLines of them as Warnings.
func summarise(plan *tfjson.Plan) actions.Plan {
	var add, change, destroy int
	var changes []actions.Change
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		acts := rc.Change.Actions
		var word string
		switch {
		case acts.Replace():
			word = "replace"
			add++
			destroy++
		case acts.Create():
			word = "create"
			add++
		case acts.Update():
			word = "update"
			change++
		case acts.Delete():
			word = "delete"
			destroy++
		case acts.Forget():
			word = "forget"
		default:
			continue
		}
		changes = append(changes, actions.Change{Field: rc.Address, To: word})
	}

	var warnings []string
	if destroy > 0 {
		warnings = append(warnings, fmt.Sprintf("this plan destroys %d resource(s); read the list",
			destroy))
	}
	for i, c := range changes {
		if i == maxResourceLines {
			warnings = append(warnings, fmt.Sprintf("… and %d more", len(changes)-maxResourceLines))
			break
		}
		warnings = append(warnings, c.Field+": "+c.To)
	}
	if len(changes) == 0 && len(plan.OutputChanges) > 0 {
		warnings = append(warnings, "only outputs change")
	}
	return actions.Plan{
		Component: actions.Terraform,
		Summary:   fmt.Sprintf("Terraform: %d to add, %d to change, %d to destroy", add, change, destroy),
		Changes:   changes,
		Warnings:  warnings,
		Params:    map[string]string{ParamCounts: fmt.Sprintf("%d,%d,%d", add, change, destroy)},
	}
}

// Run applies exactly the plan that Plan saved. A plan whose state changed since the preview
// is refused by Terraform as stale, and the person is asked for a fresh preview.
func (a *Action) Run(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	if progress == nil {
		progress = func(string) {}
	}
	sp, err := a.planned(p)
	if err != nil {
		return actions.Result{}, err
	}
	bin, err := a.binary()
	if err != nil {
		return actions.Result{}, err
	}
	if a.opts.DryRun {
		return actions.Result{
			Summary: fmt.Sprintf("dry run: would run %s apply %s in %s (%s)", filepath.Base(bin),
				sp.planFile, sp.dir, countWords(p.Params[ParamCounts], "to add", "to change", "to destroy")),
			DryRun: true,
		}, nil
	}
	if !a.busy.TryLock() {
		return actions.Result{}, a.busyError()
	}
	defer a.busy.Unlock()

	ctx, cancel := context.WithTimeoutCause(ctx, a.cfg.ApplyTimeout,
		fmt.Errorf("terraform apply did not finish within apply_timeout (%s) and was interrupted; "+
			"check status terraform and the state before trying again", a.cfg.ApplyTimeout))
	defer cancel()
	tf, err := a.terraform(sp.dir, bin)
	if err != nil {
		return actions.Result{}, err
	}
	opts := []tfexec.ApplyOption{tfexec.DirOrPlan(sp.planFile)}
	// Terraform takes a saved plan's variables from the plan and refuses -var with it.
	// OpenTofu reads the variables again, tfvars included, and refuses a plan whose values
	// differ, so it is given the same -var and -var-file values the plan was made with.
	if a.isTofu(ctx, bin) {
		for _, f := range sp.varFiles {
			opts = append(opts, tfexec.VarFile(f))
		}
		for _, v := range sp.vars {
			opts = append(opts, tfexec.Var(v.String()))
		}
	}

	a.log.InfoContext(ctx, "applying saved plan", "plan_file", sp.planFile)
	progress("applying the saved plan…")
	ui := &uiLog{progress: progress}
	err = tf.ApplyJSON(ctx, ui, opts...)
	if err != nil {
		e := a.runError(ctx, "apply", err, ui.errors())
		if errors.Is(e, errStale) {
			// A stale plan can never be applied; a fresh preview makes a new one.
			removePlan(sp.planFile, sp.varsDir)
		}
		return actions.Result{}, e
	}
	removePlan(sp.planFile, sp.varsDir)
	a.mu.Lock()
	a.lastApply = time.Now()
	a.mu.Unlock()

	counts := p.Params[ParamCounts]
	if c, ok := ui.changes(); ok {
		counts = fmt.Sprintf("%d,%d,%d", c[0], c[1], c[2])
	}
	progress("applied")
	return actions.Result{
		Summary: "Terraform applied: " + countWords(counts, "added", "changed", "destroyed"),
		Fields:  []actions.Field{{Name: "directory", Value: a.cfg.Dir}},
	}, nil
}

// countWords renders "add,change,destroy" counts with the given words.
func countWords(counts string, words ...string) string {
	parts := strings.Split(counts, ",")
	if len(parts) != len(words) {
		return "changes unknown"
	}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = parts[i] + " " + w
	}
	return strings.Join(out, ", ")
}

// savedPlan is what Run reads back from a plan's parameters.
type savedPlan struct {
	dir      string
	planFile string
	varsDir  string
	varFiles []string
	vars     []variable
}

// planned checks that p is a plan this action saved and that its file is unchanged. The
// parameters come back from storage, so every path is checked to lie where Plan writes.
func (a *Action) planned(p actions.Plan) (savedPlan, error) {
	bad := func(format string, args ...any) error {
		return &actions.Error{Kind: actions.KindInternal, Msg: fmt.Sprintf(format, args...)}
	}
	if p.Component != actions.Terraform || p.Verb != VerbApply && p.Verb != actions.VerbRollback {
		return savedPlan{}, bad("this step is %s %s, not a Terraform plan", p.Verb, p.Component)
	}
	dir, err := a.workDir()
	if err != nil {
		return savedPlan{}, err
	}
	if p.Params[ParamDir] != dir {
		return savedPlan{}, bad("this plan was made in %s, not %s", p.Params[ParamDir], dir)
	}
	planDir, err := a.planDir()
	if err != nil {
		return savedPlan{}, err
	}
	sp := savedPlan{dir: dir, planFile: p.Params[ParamPlanFile]}
	if filepath.Dir(sp.planFile) != planDir || !planNameRe.MatchString(filepath.Base(sp.planFile)) {
		return savedPlan{}, bad("this step names no saved plan of the bot's (%q)", sp.planFile)
	}
	sp.varsDir = strings.TrimSuffix(sp.planFile, ".tfplan") + ".vars"
	if s := p.Params[ParamVarFiles]; s != "" {
		for _, f := range strings.Split(s, "\n") {
			if filepath.Dir(f) != sp.varsDir {
				return savedPlan{}, bad("this step names a variable file outside its plan (%q)", f)
			}
			sp.varFiles = append(sp.varFiles, f)
		}
	}
	if s := p.Params[ParamVars]; s != "" {
		if sp.vars, err = parseVars(strings.Split(s, "\n")); err != nil {
			return savedPlan{}, bad("this step's variables are not valid: %s", actions.Explain(err))
		}
	}

	sum, err := fileSHA256(sp.planFile)
	if errors.Is(err, os.ErrNotExist) {
		return savedPlan{}, actions.Errorf(actions.KindNotFound, err, "the saved plan of this preview is "+
			"gone (applied already, expired, or made by another bot process); ask for a fresh preview")
	}
	if err != nil {
		return savedPlan{}, err
	}
	if sum != p.Params[ParamPlanSHA256] {
		return savedPlan{}, actions.Errorf(actions.KindRefused, nil, "the saved plan file changed since "+
			"the preview, so it is not applied; ask for a fresh preview")
	}
	return sp, nil
}

// binary finds the configured Terraform binary, by path or on PATH.
func (a *Action) binary() (string, error) {
	bin, err := exec.LookPath(a.cfg.Binary)
	if err != nil {
		return "", actions.Errorf(actions.KindUnavailable, err, "the Terraform binary %q was not found "+
			"where the bot runs; install it or set binary in the terraform config", a.cfg.Binary)
	}
	return bin, nil
}

// workDir returns the configured working directory as an absolute path, if it exists.
func (a *Action) workDir() (string, error) {
	dir, err := filepath.Abs(a.cfg.Dir)
	if err != nil {
		return "", fmt.Errorf("terraform dir %s: %w", a.cfg.Dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return "", actions.Errorf(actions.KindNotFound, err, "the Terraform directory %s does not exist "+
			"where the bot runs; set dir in the terraform config", a.cfg.Dir)
	}
	return dir, nil
}

// planDir returns the folder for saved plans, made private to the bot's user, after removing
// plans older than planMaxAge.
func (a *Action) planDir() (string, error) {
	dir := a.cfg.PlanDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "catobot-terraform")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("terraform plan_dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("terraform plan_dir: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("terraform plan_dir: protect %s: %w", dir, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < planMaxAge {
			continue
		}
		if planNameRe.MatchString(e.Name()) {
			removePlan(filepath.Join(dir, e.Name()), "")
		} else if strings.HasSuffix(e.Name(), ".vars") &&
			planNameRe.MatchString(strings.TrimSuffix(e.Name(), ".vars")+".tfplan") {
			removePlan("", filepath.Join(dir, e.Name()))
		}
	}
	return dir, nil
}

// terraform returns a terraform-exec handle on dir.
func (a *Action) terraform(dir, bin string) (*tfexec.Terraform, error) {
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		return nil, actions.Errorf(actions.KindInternal, err, "could not run %s in %s", a.cfg.Binary,
			a.cfg.Dir)
	}
	return tf, nil
}

// initIfNeeded runs terraform init (-input=false) when dir has no .terraform folder yet.
func (a *Action) initIfNeeded(ctx context.Context, tf *tfexec.Terraform, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ".terraform")); err == nil {
		return nil
	}
	a.log.InfoContext(ctx, "running terraform init")
	if err := tf.Init(ctx); err != nil {
		return a.runError(ctx, "init", err, nil)
	}
	return nil
}

// product returns "OpenTofu" or "Terraform" for bin.
func (a *Action) product(ctx context.Context, bin string) string {
	if a.isTofu(ctx, bin) {
		return "OpenTofu"
	}
	return "Terraform"
}

// isTofu reports whether bin is OpenTofu, from the first line of its version command.
func (a *Action) isTofu(ctx context.Context, bin string) bool {
	a.mu.Lock()
	tofu, ok := a.tofu[bin]
	a.mu.Unlock()
	if ok {
		return tofu
	}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return filepath.Base(bin) == "tofu"
	}
	tofu = strings.HasPrefix(string(out), "OpenTofu")
	a.mu.Lock()
	a.tofu[bin] = tofu
	a.mu.Unlock()
	return tofu
}

// busyError says that another plan or apply of the directory is running.
func (a *Action) busyError() error {
	return &actions.Error{Kind: actions.KindBusy, Msg: fmt.Sprintf("another Terraform plan or apply is "+
		"running in %s; try again when it finishes", a.cfg.Dir)}
}

// newID returns a random name for a saved plan.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("terraform plan: random name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("terraform plan: open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("terraform plan: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// removePlan deletes a saved plan and its folder of restored variable files.
func removePlan(planFile, varsDir string) {
	if planFile != "" {
		_ = os.Remove(planFile)
	}
	if varsDir != "" {
		_ = os.RemoveAll(varsDir)
	}
}
