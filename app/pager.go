package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/thinktank/catobot/alerts"
	"github.com/thinktank/catobot/bot"
	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/pager"
	"github.com/thinktank/catobot/telemetry"
)

// newPager returns the PagerDuty client, or nil when PAGERDUTY_TOKEN is
// not set: the bot then takes no webhooks' details and its card buttons
// say PagerDuty is not configured.
func newPager(cfg config.Config, env Env, log *slog.Logger, metrics *telemetry.Metrics) (*pager.Client, error) {
	if env.PagerDutyToken.IsZero() {
		log.Warn("pagerduty off", "reason", "PAGERDUTY_TOKEN is not set")
		return nil, nil
	}
	pc := cfg.PagerDuty.Config
	if env.PagerDutyAPIURL != "" {
		pc.APIURL = env.PagerDutyAPIURL
	}
	if env.PagerDutyEventsURL != "" {
		pc.EventsURL = env.PagerDutyEventsURL
	}
	hc := &http.Client{Timeout: pc.Timeout}
	if metrics != nil {
		hc = metrics.PagerDutyHTTPClient(hc)
	}
	return pager.New(pc, pager.Secrets{Token: env.PagerDutyToken, RoutingKey: env.RoutingKey}, pager.Options{Logger: log, HTTPClient: hc})
}

// pagerRetry retries reading an incident's details only when PagerDuty was
// unavailable; the client has already waited out any 429.
var pagerRetry = alerts.Retry{Retryable: func(err error) bool { return errors.Is(err, pager.ErrUnavailable) }}

// pagerAdapter fits pager.Client to what the bot calls.
type pagerAdapter struct{ c *pager.Client }

func (p pagerAdapter) Acknowledge(ctx context.Context, id, from string) error {
	return p.c.Acknowledge(ctx, id, from)
}

func (p pagerAdapter) Resolve(ctx context.Context, id, from string) error {
	return p.c.Resolve(ctx, id, from, "")
}

func (p pagerAdapter) Escalate(ctx context.Context, id, from string) error {
	return p.c.Escalate(ctx, id, from)
}

func (p pagerAdapter) AddNote(ctx context.Context, id, from, text string) error {
	return p.c.AddNote(ctx, id, from, text)
}

func pagerOrNil(c *pager.Client) bot.Pager {
	if c == nil {
		return nil
	}
	return pagerAdapter{c}
}

func readerOrNil(c *pager.Client) alerts.IncidentReader {
	if c == nil {
		return nil
	}
	return c
}

// onCall checks approvers against the escalation policy's on-calls.
func onCall(c *pager.Client) func(ctx context.Context, email string) (bool, error) {
	if c == nil {
		return nil
	}
	policy := c.Config().EscalationPolicy
	return func(ctx context.Context, email string) (bool, error) {
		return c.IsOnCall(ctx, policy, email)
	}
}

// trigger opens an incident for the escalation team through the Events API
// v2, or is nil when PAGERDUTY_ROUTING_KEY is not set.
func trigger(c *pager.Client, env Env) func(ctx context.Context, summary string, details map[string]any) (string, error) {
	if c == nil || env.RoutingKey.IsZero() {
		return nil
	}
	return func(ctx context.Context, summary string, details map[string]any) (string, error) {
		return c.Trigger(ctx, pager.Event{Summary: summary, Source: "catobot", Severity: "critical", Component: "cato", CustomDetails: details})
	}
}
