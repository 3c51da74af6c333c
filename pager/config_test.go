package pager_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/internal/configtest"
	"github.com/thinktank/catobot/pager"
)

// loadConfig reads a config file strictly over the defaults and validates it,
// the way the bot's config loader does.
func loadConfig(t *testing.T, name string) (pager.Config, error) {
	return configtest.Load(t, name, pager.DefaultConfig())
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr string
	}{
		{name: "good", file: "good.yml"},
		{name: "unknown escalate mode", file: "bad_escalate_mode.yml",
			wantErr: `escalate_mode: "page_everyone" is not reassign or level`},
		{name: "reassign without policy", file: "bad_missing_policy.yml",
			wantErr: "escalation_policy: required when escalate_mode is reassign (the ID of consciousness-team's escalation policy)"},
		{name: "level zero", file: "bad_level_zero.yml",
			wantErr: "escalation_level: must be 1 or more when escalate_mode is level"},
		{name: "api url scheme", file: "bad_api_url.yml",
			wantErr: `api_url: "ftp://api.example.com" is not an http(s) URL`},
		{name: "service id", file: "bad_service_id.yml",
			wantErr: `services[1]: "PSV/../x" is not a PagerDuty service ID`},
		{name: "team email", file: "bad_team_email.yml",
			wantErr: `team_email: "consciousness-team" is not an email address`},
		{name: "page size", file: "bad_page_size.yml",
			wantErr: "page_size: 500 is not between 1 and 100"},
		{name: "secret inline is an unknown key", file: "bad_unknown_key.yml",
			wantErr: "yaml: unmarshal errors:\n  line 2: field routing_key not found in type pager.Config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(t, tt.file)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{"PSV5HS1", "PSV0DS2"}, cfg.Services)
			require.Equal(t, 30*time.Second, cfg.MaxBackoff)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := pager.DefaultConfig()
	require.Equal(t, "consciousness-team", cfg.TeamName)
	require.Equal(t, "consciousness-team@thinktank.ai", cfg.TeamEmail)
	require.Equal(t, pager.EscalateReassign, cfg.EscalateMode)
	require.Error(t, cfg.Validate(), "the escalation policy ID has no default")

	cfg.EscalationPolicy = "PEP0DBA"
	require.NoError(t, cfg.Validate())
}
