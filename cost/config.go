package cost

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Findings of an EC2 instance recommendation, as Compute Optimizer spells
// them in its Finding filter.
const (
	Overprovisioned  = "Overprovisioned"
	Underprovisioned = "Underprovisioned"
	Optimized        = "Optimized"
)

var findings = []string{Overprovisioned, Underprovisioned, Optimized}

// Config is the cost section of the config file.
type Config struct {
	// Findings are the recommendations asked for. The runbook's command
	// asks only for Optimized instances, which need nothing done; the
	// default also asks for Overprovisioned ones, which save money when
	// sized down, and Underprovisioned ones, which put latency at risk.
	// Optimized instances are counted, not listed.
	Findings []string `yaml:"findings"`
	// PageSize is the maxResults of each GetEC2InstanceRecommendations
	// call, and MaxPages bounds how many calls one report makes.
	PageSize int32 `yaml:"page_size"`
	MaxPages int   `yaml:"max_pages"`
	// MaxShown bounds the recommendations listed; the rest are counted.
	MaxShown int `yaml:"max_shown"`
}

// DefaultConfig returns the runbook's monthly right-sizing look: every
// finding, up to 5 pages of 100, the 10 largest savings shown.
func DefaultConfig() Config {
	return Config{
		Findings: []string{Overprovisioned, Underprovisioned, Optimized},
		PageSize: 100,
		MaxPages: 5,
		MaxShown: 10,
	}
}

// Validate checks c; errors name the YAML keys. Findings match whatever
// their case ("OPTIMIZED", as the runbook writes it, is Optimized).
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.Findings) == 0 {
		bad("findings", "must name at least one of %s", strings.Join(findings, ", "))
	}
	seen := map[string]int{}
	for i, f := range c.Findings {
		canon, ok := canonical(f)
		switch prev, dup := seen[canon]; {
		case !ok:
			bad(fmt.Sprintf("findings[%d]", i), "must be one of %s, not %q",
				strings.Join(findings, ", "), f)
		case dup:
			bad(fmt.Sprintf("findings[%d]", i), "%q repeats findings[%d]", f, prev)
		default:
			seen[canon] = i
		}
	}
	if c.PageSize < 1 {
		bad("page_size", "must be at least 1, got %d", c.PageSize)
	}
	if c.MaxPages < 1 {
		bad("max_pages", "must be at least 1, got %d", c.MaxPages)
	}
	if c.MaxShown < 1 {
		bad("max_shown", "must be at least 1, got %d", c.MaxShown)
	}
	return errors.Join(errs...)
}

// canonical returns Compute Optimizer's spelling of finding f.
func canonical(f string) (string, bool) {
	f = strings.TrimSpace(f)
	i := slices.IndexFunc(findings, func(s string) bool { return strings.EqualFold(s, f) })
	if i < 0 {
		return "", false
	}
	return findings[i], true
}
