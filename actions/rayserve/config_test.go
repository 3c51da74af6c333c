package rayserve

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
	return configtest.Load(t, name, DefaultConfig())
}

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, cfg.Validate())
	require.Equal(t, "cato/cato-orchestrator", cfg.target())
	require.Equal(t, "cato/cato-orchestrator-hpa", cfg.hpaTarget())
	require.Equal(t, "app=cato-orchestrator", cfg.Selector)
	require.Equal(t, int64(1), cfg.Limits.Min)
	require.Equal(t, int64(200), cfg.Limits.Max)
}

func TestConfigFile(t *testing.T) {
	got, err := load(t, "good_staging.yml")
	require.NoError(t, err)
	want := Config{
		Namespace: "cato-staging", Deployment: "cato-orchestrator", HPA: "", Selector: "app=cato-orchestrator",
		// Keys the file leaves out keep the defaults it was read over.
		Limits:       actions.Limits{Min: 1, Max: 50, MaxFactorUp: 4, MaxFactorDown: 2, Cooldown: 5 * time.Minute},
		WaitTimeout:  5 * time.Minute,
		PollInterval: 5 * time.Second,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("config mismatch (-got +want):\n%s", diff)
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{name: "names", file: "bad_names.yml", want: "namespace must not be empty\n" +
			`deployment "Cato_Orchestrator" is not a valid Kubernetes name: a lowercase RFC 1123 subdomain ` +
			"must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an " +
			"alphanumeric character (e.g. 'example.com', regex used for validation is " +
			`'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{name: "limits", file: "bad_limits.yml", want: "limits: max (5) must not be below min (10)"},
		{name: "durations", file: "bad_durations.yml",
			want: "wait_timeout must be positive, got 0s\npoll_interval must be positive, got -1s"},
		{name: "selector", file: "bad_selector.yml", want: `selector "app in (a": ` +
			`unable to parse requirement: found '', expected: ',' or ')'`},
		{name: "unknown key", file: "bad_unknown_key.yml",
			want: "yaml: unmarshal errors:\n  line 1: field replicas not found in type rayserve.Config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.file)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Deployment = ""
	_, err := New(cfg, nil, Options{})
	require.EqualError(t, err, "rayserve config: deployment must not be empty")
}
