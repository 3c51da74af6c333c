package terraform

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Config is the Terraform working directory the bot plans and applies, and the binary it runs.
type Config struct {
	// Dir is the Terraform working directory. A relative path is resolved against the config
	// file's directory (see Resolve).
	Dir string `yaml:"dir"`
	// Binary is the command to run: "terraform" or "tofu", a name looked up on PATH, or a path.
	Binary string `yaml:"binary"`
	// VarFiles is the glob, inside Dir, of the variable files that rollback restores from the
	// previous commit.
	VarFiles string `yaml:"var_files"`
	// PlanDir is where saved plans are kept until they are applied; empty means
	// catobot-terraform in the system's temporary directory. Saved plans hold variable values,
	// so the folder is made readable by the bot's user only.
	PlanDir string `yaml:"plan_dir"`
	// PlanTimeout bounds one preview: init when needed, plan and reading the plan back.
	PlanTimeout time.Duration `yaml:"plan_timeout"`
	// ApplyTimeout bounds one apply. When it runs out Terraform is interrupted, which lets it
	// stop cleanly and write its state.
	ApplyTimeout time.Duration `yaml:"apply_timeout"`
}

// Runbook values. An ElastiCache node type change applied through Terraform can take well
// over half an hour, so an apply gets an hour.
const (
	defaultDir          = "infrastructure/terraform/environments/production"
	defaultBinary       = "terraform"
	defaultVarFiles     = "*.tfvars"
	defaultPlanTimeout  = 10 * time.Minute
	defaultApplyTimeout = time.Hour
)

// DefaultConfig returns the runbook's setup: terraform in
// infrastructure/terraform/environments/production, whose *.tfvars rollback restores.
func DefaultConfig() Config {
	return Config{
		Dir:          defaultDir,
		Binary:       defaultBinary,
		VarFiles:     defaultVarFiles,
		PlanTimeout:  defaultPlanTimeout,
		ApplyTimeout: defaultApplyTimeout,
	}
}

// Resolve returns c with its relative paths (dir, plan_dir, and a binary given as a relative
// path such as ./bin/tofu) made absolute against base, the config file's directory. A binary
// given as a bare name is left to be looked up on PATH.
func (c Config) Resolve(base string) Config {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.Dir = abs(c.Dir)
	c.PlanDir = abs(c.PlanDir)
	if strings.ContainsRune(c.Binary, filepath.Separator) {
		c.Binary = abs(c.Binary)
	}
	return c
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir must not be empty"))
	}
	if c.Binary == "" {
		errs = append(errs, errors.New("binary must not be empty"))
	}
	switch {
	case c.VarFiles == "":
		errs = append(errs, errors.New("var_files must not be empty"))
	case strings.ContainsAny(c.VarFiles, `/\`):
		errs = append(errs, fmt.Errorf("var_files must be a file name pattern inside dir, got %q",
			c.VarFiles))
	default:
		if _, err := filepath.Match(c.VarFiles, ""); err != nil {
			errs = append(errs, fmt.Errorf("var_files is not a valid pattern: %q", c.VarFiles))
		}
	}
	if c.PlanTimeout <= 0 {
		errs = append(errs, fmt.Errorf("plan_timeout must be positive, got %s", c.PlanTimeout))
	}
	if c.ApplyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("apply_timeout must be positive, got %s", c.ApplyTimeout))
	}
	return errors.Join(errs...)
}
