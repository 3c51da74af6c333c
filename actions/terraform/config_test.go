package terraform

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

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
	want := Config{
		Dir:          "infrastructure/terraform/environments/production",
		Binary:       "terraform",
		VarFiles:     "*.tfvars",
		PlanTimeout:  10 * time.Minute,
		ApplyTimeout: time.Hour,
	}
	if diff := cmp.Diff(cfg, want); diff != "" {
		t.Errorf("config mismatch (-got +want):\n%s", diff)
	}
}

func TestConfigFileAndResolve(t *testing.T) {
	cfg, err := load(t, "good.yml")
	require.NoError(t, err)
	got := cfg.Resolve("/etc/catobot")
	want := Config{
		Dir:          "/etc/infra/production",
		Binary:       "/etc/catobot/bin/tofu",
		VarFiles:     "*.tfvars",
		PlanDir:      "/etc/catobot/plans",
		PlanTimeout:  10 * time.Minute,
		ApplyTimeout: 90 * time.Minute,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("config mismatch (-got +want):\n%s", diff)
	}
	// A bare binary name stays a name, looked up on PATH.
	require.Equal(t, "terraform", DefaultConfig().Resolve("/etc/catobot").Binary)
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{file: "bad_empty.yml", want: "dir must not be empty\nbinary must not be empty"},
		{file: "bad_var_files_path.yml", want: `var_files must be a file name pattern inside dir, got "envs/*.tfvars"`},
		{file: "bad_var_files_pattern.yml", want: `var_files is not a valid pattern: "[.tfvars"`},
		{file: "bad_timeouts.yml", want: "plan_timeout must be positive, got 0s\n" +
			"apply_timeout must be positive, got -1m0s"},
		{file: "bad_unknown_key.yml", want: "yaml: unmarshal errors:\n  line 1: field binary_path not found in type terraform.Config"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := load(t, tt.file)
			require.EqualError(t, err, tt.want)
		})
	}
}
