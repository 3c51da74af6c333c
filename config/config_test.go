package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultIsValid(t *testing.T) {
	c, err := Load("")
	require.NoError(t, err)
	require.Equal(t, "cato-oncall", c.Slack.Channel)
	require.Equal(t, "cato-shadow-self", c.Components.Shadow.Endpoint)
	require.Equal(t, "cato-orchestrator", c.Components.Ray.Deployment)
	require.NotEmpty(t, c.Rules)
}

func TestLoad(t *testing.T) {
	c, err := Load("testdata/conf.good.yml")
	require.NoError(t, err)
	require.Equal(t, []string{"U0ONCALL01"}, c.Access.Users)
	require.Equal(t, 20*time.Minute, c.Access.ButtonTTL)
	require.Equal(t, int64(100), c.Components.Shadow.Limits.Max)
	require.Equal(t, "primary", c.Components.Shadow.Variant, "unnamed keys keep their defaults")
	abs, _ := filepath.Abs("testdata/state")
	got, _ := filepath.Abs(c.Ledger.Dir)
	require.Equal(t, abs, got, "ledger.dir is relative to the config file")
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"conf.unknown-key.yml", "line 2: unknown key chanel"},
		{"conf.bad-limits.yml", "components.ray.limits: max (10) must not be below min (50)"},
		{"conf.no-channel.yml", "slack.channel: must name the on-call channel"},
		{"conf.poll-no-services.yml", "pagerduty.services: polling needs at least one service ID"},
		{"conf.bad-duration.yml", "line 2: soon is not a duration; write it like 30s, 5m or 1h"},
		{"conf.bad-rule.yml", `rules[0].op: must be one of >, >=, <, <=, not "=="`},
		{"conf.bad-ledger-url.yml", `ledger.url: unsupported scheme "postgres"; use valkey://, valkeys://, redis:// or rediss://`},
		{"conf.missing.yml", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file))
			require.ErrorContains(t, err, tt.want)
		})
	}
}
