// Package config loads catobot's YAML configuration. Every setting has a
// default taken from the scaling runbook, so the bot runs with no file at
// all; a file overrides what it names, and an unknown key or a bad value is
// an error that names the key. Secrets never live here: they come from the
// environment (see Env).
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/dynamodb"
	"github.com/thinktank/catobot/actions/elasticache"
	"github.com/thinktank/catobot/actions/opensearch"
	"github.com/thinktank/catobot/actions/rayserve"
	"github.com/thinktank/catobot/actions/sagemaker"
	"github.com/thinktank/catobot/actions/terraform"
	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/bot"
	"github.com/thinktank/catobot/cost"
	"github.com/thinktank/catobot/internal/strictyaml"
	"github.com/thinktank/catobot/lease"
	"github.com/thinktank/catobot/monitor"
	"github.com/thinktank/catobot/pager"
)

// Config is catobot's whole configuration.
type Config struct {
	Slack      Slack          `yaml:"slack"`
	Access     bot.Access     `yaml:"access"`
	Escalation bot.Escalation `yaml:"escalation"`
	PagerDuty  PagerDuty      `yaml:"pagerduty"`
	Ledger     Ledger         `yaml:"ledger"`
	Lease      lease.Config   `yaml:"lease"`
	// Rules replace the built-in runbook rules when given.
	Rules      []alerts.Rule `yaml:"rules"`
	Components Components    `yaml:"components"`
	// Monitoring are the key metrics /cato status reads.
	Monitoring monitor.Config `yaml:"monitoring"`
	// Cost configures the read-only /cato cost report.
	Cost cost.Config `yaml:"cost"`
}

// Slack holds the Slack settings other than tokens.
type Slack struct {
	// Channel is where incident cards go: a name or a channel ID.
	Channel string `yaml:"channel"`
}

// PagerDuty holds the PagerDuty settings other than the token.
type PagerDuty struct {
	pager.Config `yaml:",inline"`
	// PollInterval turns on polling for open incidents, for clusters that
	// take no inbound webhooks; zero leaves it off.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Ledger says where durable state lives.
type Ledger struct {
	// URL is "file" (the default), "memory", or a valkey:// or redis://
	// URL shared by several replicas.
	URL string `yaml:"url"`
	// Dir is the data directory of a file ledger.
	Dir string `yaml:"dir"`
	// EventTTL is how long processed event ids are remembered.
	EventTTL time.Duration `yaml:"event_ttl"`
	// Heartbeat is how often a process records that it is alive; a step
	// whose process missed three heartbeats is followed by another.
	Heartbeat time.Duration `yaml:"heartbeat"`
}

// Components configures each system the bot acts on.
type Components struct {
	Shadow     sagemaker.Config   `yaml:"shadow"`
	NLI        sagemaker.Config   `yaml:"nli"`
	Ray        rayserve.Config    `yaml:"ray"`
	Cache      elasticache.Config `yaml:"cache"`
	Dynamo     dynamodb.Config    `yaml:"dynamo"`
	OpenSearch opensearch.Config  `yaml:"opensearch"`
	Terraform  terraform.Config   `yaml:"terraform"`
}

// Default returns the runbook's configuration.
func Default() Config {
	return Config{
		Slack: Slack{Channel: "cato-oncall"},
		Access: bot.Access{
			ButtonTTL:   30 * time.Minute,
			ApprovalTTL: 15 * time.Minute,
		},
		Escalation: bot.Escalation{Team: "consciousness-team", Email: "consciousness-team@thinktank.ai"},
		PagerDuty:  PagerDuty{Config: pagerDefaults()},
		Ledger:     Ledger{URL: "file", Dir: "data", EventTTL: 7 * 24 * time.Hour, Heartbeat: 10 * time.Second},
		Lease:      lease.DefaultConfig(),
		Monitoring: monitor.DefaultConfig(),
		Cost:       cost.DefaultConfig(),
		Rules:      alerts.DefaultRules(),
		Components: Components{
			Shadow:     sagemaker.DefaultShadowConfig(),
			NLI:        sagemaker.DefaultNLIConfig(),
			Ray:        rayserve.DefaultConfig(),
			Cache:      elasticache.DefaultConfig(),
			Dynamo:     dynamodb.DefaultConfig(),
			OpenSearch: opensearch.DefaultConfig(),
			Terraform:  terraform.DefaultConfig(),
		},
	}
}

// Load reads the YAML file at path over the defaults and validates the
// result. An empty path returns the defaults.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, c.Validate()
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := Parse(raw, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if c.Ledger.Dir != "" && !filepath.IsAbs(c.Ledger.Dir) {
		c.Ledger.Dir = filepath.Join(filepath.Dir(path), c.Ledger.Dir)
	}
	c.Components.Terraform = c.Components.Terraform.Resolve(filepath.Dir(path))
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML onto c strictly: unknown keys are errors.
func Parse(raw []byte, c *Config) error {
	return strictyaml.Friendly(strictyaml.Decode(raw, c))
}

// Validate checks every section; errors name the YAML key.
func (c Config) Validate() error {
	if c.Slack.Channel == "" {
		return errors.New("slack.channel: must name the on-call channel")
	}
	if c.Access.ButtonTTL < 0 {
		return errors.New("access.button_ttl: must not be negative")
	}
	if c.Access.ApprovalTTL < 0 {
		return errors.New("access.approval_ttl: must not be negative")
	}
	if err := checkLedgerURL(c.Ledger.URL); err != nil {
		return err
	}
	if c.Ledger.Heartbeat < 0 {
		return errors.New("ledger.heartbeat: must not be negative")
	}
	if err := c.PagerDuty.Validate(); err != nil {
		return fmt.Errorf("pagerduty.%w", err)
	}
	if c.PagerDuty.PollInterval < 0 || (c.PagerDuty.PollInterval > 0 && c.PagerDuty.PollInterval < 10*time.Second) {
		return errors.New("pagerduty.poll_interval: must be 0 (off) or at least 10s")
	}
	if c.PagerDuty.PollInterval > 0 && len(c.PagerDuty.Services) == 0 {
		return errors.New("pagerduty.services: polling needs at least one service ID")
	}
	if err := c.Lease.Validate(); err != nil {
		return err
	}
	if err := c.Monitoring.Validate(); err != nil {
		return fmt.Errorf("monitoring.%w", err)
	}
	if err := c.Cost.Validate(); err != nil {
		return fmt.Errorf("cost.%w", err)
	}
	if err := alerts.ValidateRules(c.Rules); err != nil {
		return err
	}
	checks := []struct {
		key string
		err error
	}{
		{"components.shadow", c.Components.Shadow.Validate()},
		{"components.nli", c.Components.NLI.Validate()},
		{"components.ray", c.Components.Ray.Validate()},
		{"components.cache", c.Components.Cache.Validate()},
		{"components.dynamo", c.Components.Dynamo.Validate()},
		{"components.opensearch", c.Components.OpenSearch.Validate()},
		{"components.terraform", c.Components.Terraform.Validate()},
	}
	for _, ch := range checks {
		if ch.err != nil {
			return fmt.Errorf("%s.%w", ch.key, ch.err)
		}
	}
	return nil
}

// Limits returns each component's guardrails.
func (c Config) Limits() map[string]actions.Limits {
	return map[string]actions.Limits{
		actions.Shadow: c.Components.Shadow.Limits,
		actions.NLI:    c.Components.NLI.Limits,
		actions.Ray:    c.Components.Ray.Limits,
		actions.Cache:  c.Components.Cache.Replicas,
		actions.Dynamo: c.Components.Dynamo.Read,
	}
}

// pagerDefaults escalates by raising the escalation level, which needs no
// account-specific ID; naming consciousness-team's policy under
// pagerduty.escalation_policy with escalate_mode "reassign" hands the
// incident to that team instead.
func pagerDefaults() pager.Config {
	c := pager.DefaultConfig()
	c.EscalateMode = pager.EscalateLevel
	return c
}

// checkLedgerURL accepts what ledger.Open does, so a bad URL is a config
// error at start-up. Its error never shows the URL, which may hold a
// password.
func checkLedgerURL(u string) error {
	switch u {
	case "", "file", "memory":
		return nil
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || rest == "" {
		return errors.New(`ledger.url: want "file", "memory" or a valkey://, valkeys://, redis:// or rediss:// URL`)
	}
	switch strings.ToLower(scheme) {
	case "valkey", "valkeys", "redis", "rediss":
		return nil
	}
	return fmt.Errorf("ledger.url: unsupported scheme %q; use valkey://, valkeys://, redis:// or rediss://", scheme)
}
