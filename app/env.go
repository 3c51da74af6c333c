package app

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/thinktank/catobot/secret"
)

// Env holds what catobot reads from the environment: secrets and service
// endpoints, by the names each ecosystem already uses. AWS and Kubernetes
// settings are read by their own SDKs (the credential chain,
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, KUBECONFIG or the
// in-cluster config).
type Env struct {
	// SlackAppToken (SLACK_APP_TOKEN, xapp-) opens the socket.
	SlackAppToken secret.String
	// SlackBotToken (SLACK_BOT_TOKEN, xoxb-) calls the Web API.
	SlackBotToken secret.String
	// SlackAPIURL (SLACK_API_URL) replaces Slack's API base.
	SlackAPIURL string
	// PagerDutyToken (PAGERDUTY_TOKEN) calls the REST API.
	PagerDutyToken secret.String
	// PagerDutyAPIURL (PAGERDUTY_API_URL) replaces the REST API base.
	PagerDutyAPIURL string
	// PagerDutyEventsURL (PAGERDUTY_EVENTS_URL) replaces the Events API base.
	PagerDutyEventsURL string
	// WebhookSecrets (PAGERDUTY_WEBHOOK_SECRET, comma-separated for
	// rotation) verify webhook signatures.
	WebhookSecrets []secret.String
	// RoutingKey (PAGERDUTY_ROUTING_KEY) triggers incidents through the
	// Events API v2.
	RoutingKey secret.String
}

// Slack's token prefixes; see https://api.slack.com/concepts/token-types.
const (
	appTokenPrefix = "xapp-"
	botTokenPrefix = "xoxb-"
)

// ReadEnv reads Env through getenv and checks what it can without a
// network call. Its errors name the variable and never show its value.
func ReadEnv(getenv func(string) string) (Env, error) {
	e := Env{
		SlackAppToken:      secret.String(strings.TrimSpace(getenv("SLACK_APP_TOKEN"))),
		SlackBotToken:      secret.String(strings.TrimSpace(getenv("SLACK_BOT_TOKEN"))),
		SlackAPIURL:        strings.TrimSpace(getenv("SLACK_API_URL")),
		PagerDutyToken:     secret.String(strings.TrimSpace(getenv("PAGERDUTY_TOKEN"))),
		PagerDutyAPIURL:    strings.TrimSpace(getenv("PAGERDUTY_API_URL")),
		PagerDutyEventsURL: strings.TrimSpace(getenv("PAGERDUTY_EVENTS_URL")),
		RoutingKey:         secret.String(strings.TrimSpace(getenv("PAGERDUTY_ROUTING_KEY"))),
	}
	for _, s := range strings.Split(getenv("PAGERDUTY_WEBHOOK_SECRET"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			e.WebhookSecrets = append(e.WebhookSecrets, secret.String(s))
		}
	}
	switch {
	case e.SlackAppToken.IsZero():
		return e, fmt.Errorf("SLACK_APP_TOKEN is not set: create an app-level token with the connections:write scope (see README)")
	case !strings.HasPrefix(e.SlackAppToken.Reveal(), appTokenPrefix):
		return e, fmt.Errorf("SLACK_APP_TOKEN does not look like an app-level token: it must start with %q", appTokenPrefix)
	case e.SlackBotToken.IsZero():
		return e, fmt.Errorf("SLACK_BOT_TOKEN is not set: install the app and copy its bot token (see README)")
	case !strings.HasPrefix(e.SlackBotToken.Reveal(), botTokenPrefix):
		return e, fmt.Errorf("SLACK_BOT_TOKEN does not look like a bot token: it must start with %q", botTokenPrefix)
	}
	for _, v := range []struct{ name, val string }{
		{"SLACK_API_URL", e.SlackAPIURL},
		{"PAGERDUTY_API_URL", e.PagerDutyAPIURL},
		{"PAGERDUTY_EVENTS_URL", e.PagerDutyEventsURL},
	} {
		if v.val == "" {
			continue
		}
		u, err := url.Parse(v.val)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return e, fmt.Errorf("%s must be an http or https URL", v.name)
		}
	}
	if e.SlackAPIURL != "" && !strings.HasSuffix(e.SlackAPIURL, "/") {
		e.SlackAPIURL += "/"
	}
	return e, nil
}
