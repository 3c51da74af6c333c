package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/thinktank/catobot/actions"
)

// The runbook's Terraform rollback is
//
//	git checkout HEAD~1 -- *.tfvars && terraform apply
//
// run in the working directory. Checking files out in the operator's tree at preview time
// would change production's inputs before anyone confirmed, and would leave the tree changed
// if the step is cancelled. Planning in a temporary copy of the directory would break relative
// module sources (../../modules) and, with the local backend, plan against a copy of the state.
// So the rollback reads the previous commit's variable files with git show, writes them
// beside the saved plan, and passes them with -var-file: explicit variable files take
// precedence over the ones Terraform loads by itself, the tree is never touched, and the plan
// runs against the real state in the real directory. The one difference, a variable assigned
// now but not in the previous commit, keeps its current value; the preview says so by name.

// restored is the previous commit's variable files, written out for a rollback plan.
type restored struct {
	Commit   string   // short commit id
	Files    []string // the written copies, in Terraform's load order
	Warnings []string
}

// autoLoaded reports whether Terraform loads the variable file name without being told to.
func autoLoaded(name string) bool {
	return name == "terraform.tfvars" || name == "terraform.tfvars.json" ||
		strings.HasSuffix(name, ".auto.tfvars") || strings.HasSuffix(name, ".auto.tfvars.json")
}

// loadOrder sorts names the way Terraform loads variable files: terraform.tfvars,
// terraform.tfvars.json, then *.auto.tfvars(.json) by name.
func loadOrder(names []string) {
	rank := func(n string) int {
		switch n {
		case "terraform.tfvars":
			return 0
		case "terraform.tfvars.json":
			return 1
		}
		return 2
	}
	sort.Slice(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
}

// restoreVarFiles writes the previous commit's variable files in dir into the folder into and
// says what the rollback will and will not change.
func (a *Action) restoreVarFiles(ctx context.Context, dir, into string) (restored, error) {
	if out, err := a.git(ctx, dir, "rev-parse", "--is-inside-work-tree"); err != nil ||
		strings.TrimSpace(string(out)) != "true" {
		if err != nil && actions.KindOf(err) == actions.KindUnavailable {
			return restored{}, err
		}
		return restored{}, actions.Errorf(actions.KindRefused, err, "%s is not in a git repository, so "+
			"there is no previous commit of its tfvars to roll back to", a.cfg.Dir)
	}
	out, err := a.git(ctx, dir, "rev-parse", "--verify", "--quiet", "--short", "HEAD~1^{commit}")
	if err != nil {
		return restored{}, actions.Errorf(actions.KindRefused, err, "the repository of %s has no commit "+
			"before the current one, so there is nothing to roll back to", a.cfg.Dir)
	}
	r := restored{Commit: strings.TrimSpace(string(out))}

	old, err := a.trackedVarFiles(ctx, dir, "HEAD~1")
	if err != nil {
		return restored{}, err
	}
	var names []string
	for _, n := range old {
		if autoLoaded(n) {
			names = append(names, n)
			continue
		}
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s is left out: Terraform does not load it by "+
			"itself, so the runbook's rollback does not use it either", n))
	}
	if len(names) == 0 {
		return restored{}, actions.Errorf(actions.KindRefused, nil, "the previous commit (%s) has no "+
			"variable files matching %s that Terraform loads in %s, so there is nothing to roll back",
			r.Commit, a.cfg.VarFiles, a.cfg.Dir)
	}
	loadOrder(names)

	if err := os.MkdirAll(into, 0o700); err != nil {
		return restored{}, fmt.Errorf("terraform rollback: create %s: %w", into, err)
	}
	changed := false
	oldNames, nowNames := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		content, err := a.git(ctx, dir, "show", "HEAD~1:./"+n)
		if err != nil {
			return restored{}, err
		}
		now, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return restored{}, fmt.Errorf("terraform rollback: read %s: %w", n, err)
		}
		changed = changed || !bytes.Equal(content, now)
		r.Warnings = append(r.Warnings, a.compareNames(n, content, now, oldNames, nowNames)...)

		path := filepath.Join(into, n)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return restored{}, fmt.Errorf("terraform rollback: write %s: %w", path, err)
		}
		r.Files = append(r.Files, path)
	}

	// Files Terraform loads now that the previous commit did not have keep their values.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return restored{}, fmt.Errorf("terraform rollback: list %s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !autoLoaded(n) || contains(names, n) {
			continue
		}
		if ok, _ := filepath.Match(a.cfg.VarFiles, n); !ok {
			continue
		}
		changed = true
		now, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return restored{}, fmt.Errorf("terraform rollback: read %s: %w", n, err)
		}
		r.Warnings = append(r.Warnings, a.compareNames(n, nil, now, oldNames, nowNames)...)
	}
	var kept []string
	for n := range nowNames {
		if !oldNames[n] {
			kept = append(kept, n)
		}
	}
	sort.Strings(kept)
	if len(kept) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s set now but not in %s: the rollback keeps the "+
			"current value; remove it from the tfvars by hand if it should go back to its default",
			strings.Join(kept, ", "), r.Commit))
	}
	if !changed {
		return restored{}, actions.Usagef("the tfvars in %s are the same as in the previous commit (%s); "+
			"nothing to roll back", a.cfg.Dir, r.Commit)
	}
	return r, nil
}

// compareNames adds the variable names assigned in one file, before and now, to the sets, and
// returns a warning when a file cannot be read well enough to compare.
func (a *Action) compareNames(
	name string,
	old, now []byte,
	oldNames, nowNames map[string]bool,
) []string {
	var warnings []string
	for _, f := range []struct {
		src []byte
		set map[string]bool
	}{{old, oldNames}, {now, nowNames}} {
		if f.src == nil {
			continue
		}
		names, err := assignedNames(name, f.src)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("could not list the variables in %s (%v); check "+
				"the plan for values the rollback does not reset", name, err))
			continue
		}
		for _, n := range names {
			f.set[n] = true
		}
	}
	return warnings
}

// trackedVarFiles lists the files in dir at commit rev that match the var_files pattern.
func (a *Action) trackedVarFiles(ctx context.Context, dir, rev string) ([]string, error) {
	out, err := a.git(ctx, dir, "ls-tree", "-z", rev, "--", ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, entry := range bytes.Split(out, []byte{0}) {
		meta, name, ok := bytes.Cut(entry, []byte{'\t'})
		if !ok || !bytes.Contains(meta, []byte(" blob ")) {
			continue
		}
		if ok, _ := filepath.Match(a.cfg.VarFiles, string(name)); ok {
			names = append(names, string(name))
		}
	}
	return names, nil
}

// git runs git with argv in dir and returns its standard output.
func (a *Action) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	bin, err := exec.LookPath(a.opts.Git)
	if err != nil {
		return nil, actions.Errorf(actions.KindUnavailable, err, "git is not installed where the bot runs; "+
			"it is needed to read the previous commit's tfvars")
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := clipText(redact(strings.TrimSpace(stderr.String())))
		if msg == "" {
			msg = err.Error()
		}
		return nil, actions.Errorf(actions.KindRefused, errors.New(msg), "git %s in %s failed: %s",
			args[0], a.cfg.Dir, msg)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
