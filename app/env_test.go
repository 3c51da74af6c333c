package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadEnv(t *testing.T) {
	const app, bot = "xapp-1-A0-123-secretvalue", "xoxb-123-456-secretvalue"
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"ok", map[string]string{"SLACK_APP_TOKEN": app, "SLACK_BOT_TOKEN": bot}, ""},
		{"no app token", map[string]string{"SLACK_BOT_TOKEN": bot}, "SLACK_APP_TOKEN is not set: create an app-level token with the connections:write scope (see README)"},
		{"bot token as app token", map[string]string{"SLACK_APP_TOKEN": bot, "SLACK_BOT_TOKEN": bot}, `SLACK_APP_TOKEN does not look like an app-level token: it must start with "xapp-"`},
		{"no bot token", map[string]string{"SLACK_APP_TOKEN": app}, "SLACK_BOT_TOKEN is not set: install the app and copy its bot token (see README)"},
		{"user token as bot token", map[string]string{"SLACK_APP_TOKEN": app, "SLACK_BOT_TOKEN": "xoxp-1-secretvalue"}, `SLACK_BOT_TOKEN does not look like a bot token: it must start with "xoxb-"`},
		{"bad api url", map[string]string{"SLACK_APP_TOKEN": app, "SLACK_BOT_TOKEN": bot, "PAGERDUTY_API_URL": "ftp://x"}, "PAGERDUTY_API_URL must be an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ReadEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, bot, e.SlackBotToken.Reveal())
				return
			}
			require.EqualError(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "secretvalue", "errors never show a token")
		})
	}
}

func TestReadEnvRotation(t *testing.T) {
	e, err := ReadEnv(func(k string) string {
		return map[string]string{"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": "http://127.0.0.1:1/api",
			"PAGERDUTY_WEBHOOK_SECRET": " old , new "}[k]
	})
	require.NoError(t, err)
	require.Len(t, e.WebhookSecrets, 2)
	require.Equal(t, "new", e.WebhookSecrets[1].Reveal())
	require.Equal(t, "http://127.0.0.1:1/api/", e.SlackAPIURL, "slack-go needs the trailing slash")
}
