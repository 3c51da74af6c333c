package alerts

import (
	"errors"
	"fmt"
	"time"
)

// Config is the alerts section of the config file.
type Config struct {
	// Rules replace the built-in runbook rules when given.
	Rules   []Rule        `yaml:"rules"`
	Webhook WebhookConfig `yaml:"webhook"`
	Poll    PollConfig    `yaml:"poll"`
}

// WebhookConfig tunes the webhook intake; the signing secrets come from
// the environment, never from the file.
type WebhookConfig struct {
	MaxBody   int64         `yaml:"max_body"`
	QueueSize int           `yaml:"queue_size"`
	Workers   int           `yaml:"workers"`
	QueueWait time.Duration `yaml:"queue_wait"`
}

// PollConfig turns on and tunes the polling intake.
type PollConfig struct {
	Enabled  bool          `yaml:"enabled"`
	Interval time.Duration `yaml:"interval"`
	Lookback time.Duration `yaml:"lookback"`
}

// DefaultConfig returns the runbook's rules and the intake defaults.
func DefaultConfig() Config {
	return Config{
		Rules: DefaultRules(),
		Webhook: WebhookConfig{
			MaxBody:   DefaultMaxBody,
			QueueSize: DefaultQueueSize,
			Workers:   DefaultWorkers,
			QueueWait: DefaultQueueWait,
		},
		Poll: PollConfig{Interval: DefaultPollInterval, Lookback: DefaultPollLookback},
	}
}

// Validate checks c; errors name the YAML keys, as in "rules[2].op: …" or
// "webhook.workers: …".
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := ValidateRules(c.Rules); err != nil {
		errs = append(errs, err)
	}
	if c.Webhook.MaxBody < 0 {
		bad("webhook.max_body", "must not be negative, got %d", c.Webhook.MaxBody)
	}
	if c.Webhook.QueueSize < 0 {
		bad("webhook.queue_size", "must not be negative, got %d", c.Webhook.QueueSize)
	}
	if c.Webhook.Workers < 0 {
		bad("webhook.workers", "must not be negative, got %d", c.Webhook.Workers)
	}
	if c.Webhook.QueueWait < 0 || c.Webhook.QueueWait > 4*time.Second {
		// PagerDuty waits 5 s for an answer.
		bad("webhook.queue_wait", "must be between 0s and 4s, got %s", c.Webhook.QueueWait)
	}
	if c.Poll.Enabled && c.Poll.Interval < time.Second {
		bad("poll.interval", "must be at least 1s, got %s", c.Poll.Interval)
	}
	if c.Poll.Lookback < 0 {
		bad("poll.lookback", "must not be negative, got %s", c.Poll.Lookback)
	}
	return errors.Join(errs...)
}
