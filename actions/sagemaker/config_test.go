package sagemaker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/internal/configtest"
)

// load reads a config file strictly over the defaults and validates it,
// the way the bot's config loader does.
func load(t *testing.T, name string) (Config, error) {
	return configtest.Load(t, name, DefaultShadowConfig())
}

func TestDefaultConfigs(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), DefaultShadowConfig(), DefaultNLIConfig()} {
		t.Run(cfg.Component, func(t *testing.T) {
			require.NoError(t, cfg.Validate())
		})
	}
	require.Equal(t, DefaultShadowConfig(), DefaultConfig())
	require.Equal(t, int64(10), DefaultShadowConfig().RollbackTo)
	require.Equal(t, "cato-shadow-self/primary", DefaultShadowConfig().target())
	require.Equal(t, "cato-nli/primary", DefaultNLIConfig().target())
}

func TestConfigFile(t *testing.T) {
	got, err := load(t, "good_nli.yml")
	require.NoError(t, err)

	want := Config{
		Component: "nli", Title: "NLI model", Endpoint: "cato-nli", Variant: "primary",
		// Keys the file leaves out keep the defaults it was read over.
		Limits:          actions.Limits{Min: 1, Max: 50, MaxFactorUp: 4, MaxFactorDown: 2, Cooldown: 10 * time.Minute},
		RollbackTo:      10,
		WaitTimeout:     10 * time.Minute,
		PollInterval:    20 * time.Second,
		MaxPollInterval: time.Minute,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("config mismatch (-got +want):\n%s", diff)
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{file: "bad_empty_endpoint.yml", want: "endpoint must not be empty"},
		{file: "bad_limits.yml", want: "limits: max (5) must not be below min (10)\n" +
			"rollback_to (10) must be 0 (none) or within limits min (10) and max (5)"},
		{file: "bad_rollback_to.yml", want: "rollback_to (300) must be 0 (none) or within limits min (1) and max (250)"},
		{file: "bad_durations.yml", want: "wait_timeout must be positive, got 0s\n" +
			"max_poll_interval (30s) must not be below poll_interval (1m0s)"},
		{file: "bad_unknown_key.yml", want: "yaml: unmarshal errors:\n  line 1: field endpoint_name not found in type sagemaker.Config"},
		{file: "bad_duration_syntax.yml", want: "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `ten min...` into time.Duration"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := load(t, tt.file)
			require.EqualError(t, err, tt.want)
		})
	}
}
