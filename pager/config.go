package pager

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"time"
)

// Escalation modes.
const (
	// EscalateReassign hands the incident to the team's escalation policy.
	EscalateReassign = "reassign"
	// EscalateLevel raises the incident to the configured escalation level.
	EscalateLevel = "level"
)

// PagerDuty's public endpoints, used when the config names none.
const (
	DefaultAPIURL    = "https://api.pagerduty.com"
	DefaultEventsURL = "https://events.pagerduty.com"
)

// maxPageSize is PagerDuty's upper bound on limit:
// https://developer.pagerduty.com/docs/pagination
const maxPageSize = 100

// Config holds the PagerDuty settings. The API token and the Events API
// routing key are not here: they come from the environment as Secrets.
type Config struct {
	// APIURL is the REST API v2 base URL.
	APIURL string `yaml:"api_url"`
	// EventsURL is the Events API v2 base URL (without /v2/enqueue).
	EventsURL string `yaml:"events_url"`
	// Services are the service IDs polled for open incidents.
	Services []string `yaml:"services"`
	// EscalationPolicy is the ID of consciousness-team's escalation policy.
	EscalationPolicy string `yaml:"escalation_policy"`
	// EscalateMode is EscalateReassign or EscalateLevel.
	EscalateMode string `yaml:"escalate_mode"`
	// EscalationLevel is the level EscalateLevel raises an incident to.
	EscalationLevel uint `yaml:"escalation_level"`
	// TeamName and TeamEmail name the escalation team in messages.
	TeamName  string `yaml:"team_name"`
	TeamEmail string `yaml:"team_email"`
	// PageSize is the limit asked for on each listed page.
	PageSize uint `yaml:"page_size"`
	// MaxRetries bounds the retries after HTTP 429.
	MaxRetries int `yaml:"max_retries"`
	// MaxBackoff caps one wait after HTTP 429, whatever the headers say.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Timeout bounds each HTTP request.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the runbook's escalation contact and PagerDuty's
// public endpoints. EscalationPolicy and Services are account-specific and
// have no default.
func DefaultConfig() Config {
	return Config{
		APIURL:          DefaultAPIURL,
		EventsURL:       DefaultEventsURL,
		EscalateMode:    EscalateReassign,
		EscalationLevel: 2,
		TeamName:        "consciousness-team",
		TeamEmail:       "consciousness-team@thinktank.ai",
		PageSize:        maxPageSize,
		MaxRetries:      3,
		MaxBackoff:      time.Minute,
		Timeout:         30 * time.Second,
	}
}

// Validate reports the first setting that cannot work, naming its YAML key.
func (c Config) Validate() error {
	if err := checkURL(c.APIURL); err != nil {
		return fmt.Errorf("api_url: %w", err)
	}
	if err := checkURL(c.EventsURL); err != nil {
		return fmt.Errorf("events_url: %w", err)
	}
	for i, s := range c.Services {
		if !validID(s) {
			return fmt.Errorf("services[%d]: %q is not a PagerDuty service ID", i, s)
		}
	}
	switch c.EscalateMode {
	case EscalateReassign:
		if c.EscalationPolicy == "" {
			return errors.New("escalation_policy: required when escalate_mode is reassign " +
				"(the ID of consciousness-team's escalation policy)")
		}
	case EscalateLevel:
		if c.EscalationLevel < 1 {
			return errors.New("escalation_level: must be 1 or more when escalate_mode is level")
		}
	default:
		return fmt.Errorf("escalate_mode: %q is not reassign or level", c.EscalateMode)
	}
	if c.EscalationPolicy != "" && !validID(c.EscalationPolicy) {
		return fmt.Errorf("escalation_policy: %q is not a PagerDuty escalation policy ID", c.EscalationPolicy)
	}
	if c.TeamName == "" {
		return errors.New("team_name: required")
	}
	if a, err := mail.ParseAddress(c.TeamEmail); err != nil || a.Address != c.TeamEmail {
		return fmt.Errorf("team_email: %q is not an email address", c.TeamEmail)
	}
	if c.PageSize < 1 || c.PageSize > maxPageSize {
		return fmt.Errorf("page_size: %d is not between 1 and %d", c.PageSize, maxPageSize)
	}
	if c.MaxRetries < 0 || c.MaxRetries > 10 {
		return fmt.Errorf("max_retries: %d is not between 0 and 10", c.MaxRetries)
	}
	if c.MaxBackoff <= 0 {
		return errors.New("max_backoff: must be positive")
	}
	if c.Timeout <= 0 {
		return errors.New("timeout: must be positive")
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", u.Redacted())
	}
	if u.User != nil || u.RawQuery != "" {
		return fmt.Errorf("%q must have no user info or query", u.Redacted())
	}
	return nil
}

// validID reports whether s looks like a PagerDuty object ID: letters and
// digits only, so it is safe in a URL path.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}
