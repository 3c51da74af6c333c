package monitor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/internal/configtest"
)

// load reads a config file strictly over the defaults and validates it,
// the way the bot's config loader does.
func load(t *testing.T, name string) (Config, error) {
	return configtest.Load(t, name, DefaultConfig())
}

func TestConfigGood(t *testing.T) {
	cfg, err := load(t, "good.yml")
	require.NoError(t, err)
	require.Equal(t, 30*time.Minute, cfg.Window)
	require.Len(t, cfg.Metrics, 2, "metrics given replace the defaults")
	require.Equal(t, 0.001, cfg.Metrics[0].Scale)
	require.Equal(t, time.Duration(0), cfg.Metrics[1].Period, "period defaults to 1m when read")
	require.Equal(t, DefaultPeriod, cfg.Metrics[1].period())
}

func TestConfigBad(t *testing.T) {
	tests := []struct {
		name string
		file string
		err  string
	}{
		{"direction", "bad_direction.yml", `metrics[0].direction: must be above or below, not "up"`},
		{"stat and period", "bad_stat_period.yml",
			"metrics[0].stat: must be a CloudWatch statistic such as Average, Sum, Maximum or p99, " +
				"not \"avg\"\n" +
				"metrics[0].period: must be 1s, 5s, 10s, 20s, 30s or a multiple of 1m, got 1m30s"},
		{"reversed thresholds", "reversed_thresholds.yml",
			"metrics[0].critical: (75) must not be above warning (60) when direction is below"},
		{"duplicate name", "duplicate_name.yml",
			`metrics[1].name: "error rate" is also the name of metrics[0]`},
		{"suggest", "bad_suggest.yml",
			`metrics[0].suggest: parse step "restart ray": unknown verb "restart" ` +
				`(known: scale, replicas, hpa, rollback, tier)`},
		{"missing fields", "missing_fields.yml",
			"window: must be positive, got 0s\n" +
				"metrics[0].name: must not be empty\n" +
				"metrics[0].namespace: must not be empty\n" +
				"metrics[0].metric_name: must not be empty"},
		{"no metrics", "no_metrics.yml", "metrics: must list at least one metric"},
		{"unknown key", "unknown_key.yml",
			"yaml: unmarshal errors:\n  line 6: field statistic not found in type monitor.Metric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.file)
			require.EqualError(t, err, tt.err)
		})
	}
}
