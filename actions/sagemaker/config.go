package sagemaker

import (
	"errors"
	"fmt"
	"time"

	"github.com/thinktank/catobot/actions"
)

// Config is one SageMaker endpoint variant the bot may read and scale.
type Config struct {
	// Component is the name people type after /cato: "shadow", "nli".
	Component string `yaml:"component"`
	// Title is the component's name in messages: "Shadow Self".
	Title    string `yaml:"title"`
	Endpoint string `yaml:"endpoint"`
	Variant  string `yaml:"variant"`
	// Limits bound the instance count a step may set.
	Limits actions.Limits `yaml:"limits"`
	// RollbackTo is the instance count rollback uses when no earlier
	// change is recorded; 0 means there is none and rollback then needs
	// a record.
	RollbackTo int64 `yaml:"rollback_to"`
	// WaitTimeout bounds how long a step follows an update to InService.
	WaitTimeout time.Duration `yaml:"wait_timeout"`
	// PollInterval and MaxPollInterval bound the delay between
	// DescribeEndpoint calls while following an update; the SDK's waiter
	// backs off from the first towards the second.
	PollInterval    time.Duration `yaml:"poll_interval"`
	MaxPollInterval time.Duration `yaml:"max_poll_interval"`
}

// Runbook values. Instance provisioning takes about 5–10 minutes, so an
// update is followed for up to twice that.
const (
	defaultWaitTimeout     = 20 * time.Minute
	defaultPollInterval    = 15 * time.Second
	defaultMaxPollInterval = 30 * time.Second
	defaultCooldown        = 10 * time.Minute
)

// DefaultConfig returns the Shadow Self configuration, DefaultShadowConfig.
func DefaultConfig() Config { return DefaultShadowConfig() }

// DefaultShadowConfig returns the runbook's Shadow Self endpoint:
// cato-shadow-self/primary, 1–250 instances (the runbook's largest tier),
// rolled back to 10 instances when no earlier change is recorded.
func DefaultShadowConfig() Config {
	return Config{
		Component: actions.Shadow,
		Title:     "Shadow Self",
		Endpoint:  "cato-shadow-self",
		Variant:   "primary",
		Limits: actions.Limits{
			Min:      1,
			Max:      250,
			Cooldown: defaultCooldown,
		}.WithDefaults(),
		RollbackTo:      10,
		WaitTimeout:     defaultWaitTimeout,
		PollInterval:    defaultPollInterval,
		MaxPollInterval: defaultMaxPollInterval,
	}
}

// DefaultNLIConfig returns the runbook's NLI model endpoint: cato-nli/primary,
// 1–50 instances (the runbook scales it by 2 at a time), with no rollback
// value of its own.
func DefaultNLIConfig() Config {
	c := DefaultShadowConfig()
	c.Component = actions.NLI
	c.Title = "NLI model"
	c.Endpoint = "cato-nli"
	c.Limits.Max = 50
	c.RollbackTo = 0
	return c
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct{ key, value string }{
		{"component", c.Component},
		{"title", c.Title},
		{"endpoint", c.Endpoint},
		{"variant", c.Variant},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s must not be empty", f.key))
		}
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("limits: %w", err))
	} else if c.Limits.Max < 1 {
		errs = append(errs, fmt.Errorf("limits: max must be at least 1, got %d", c.Limits.Max))
	}
	if c.RollbackTo < 0 || c.RollbackTo > 0 && (c.RollbackTo < c.Limits.Min || c.RollbackTo > c.Limits.Max) {
		errs = append(errs, fmt.Errorf(
			"rollback_to (%d) must be 0 (none) or within limits min (%d) and max (%d)",
			c.RollbackTo, c.Limits.Min, c.Limits.Max))
	}
	if c.WaitTimeout <= 0 {
		errs = append(errs, fmt.Errorf("wait_timeout must be positive, got %s", c.WaitTimeout))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll_interval must be positive, got %s", c.PollInterval))
	}
	if c.MaxPollInterval < c.PollInterval {
		errs = append(errs, fmt.Errorf("max_poll_interval (%s) must not be below poll_interval (%s)",
			c.MaxPollInterval, c.PollInterval))
	}
	return errors.Join(errs...)
}

// target returns "endpoint/variant".
func (c Config) target() string { return c.Endpoint + "/" + c.Variant }
