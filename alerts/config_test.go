package alerts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/internal/configtest"
)

// loadConfig reads a config file strictly over the defaults and validates it,
// the way the bot's config loader does.
func loadConfig(t *testing.T, name string) (Config, error) {
	return configtest.Load(t, name, DefaultConfig())
}

func TestDefaultConfigIsValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
}

func TestConfigFiles(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{file: "rules.bad_op.yml",
			want: `rules[0].op: must be one of >, >=, <, <=, not "GreaterThanThreshold"`},
		{file: "rules.bad_step.yml",
			want: `rules[0].step: parse step "scale gpus +10": unknown component "gpus" ` +
				`(known: shadow, nli, ray, cache, dynamo, opensearch, terraform)` + "\n" +
				`rules[1].name: "gpu" is also the name of rules[0]`},
		{file: "rules.unknown_key.yml",
			want: "yaml: unmarshal errors:\n  line 7: field treshold not found in type alerts.Rule"},
		{file: "webhook.bad_wait.yml",
			want: "webhook.workers: must not be negative, got -1\n" +
				"webhook.queue_wait: must be between 0s and 4s, got 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := loadConfig(t, tt.file)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestConfigRulesReplaceDefaults(t *testing.T) {
	c, err := loadConfig(t, "rules.ok.yml")
	require.NoError(t, err)
	require.Len(t, c.Rules, 2)
	require.Equal(t, 64, c.Webhook.QueueSize)
	require.Equal(t, DefaultWorkers, c.Webhook.Workers)
	require.Equal(t, 2*time.Second, c.Webhook.QueueWait)
	require.Equal(t, PollConfig{Enabled: true, Interval: time.Minute, Lookback: 12 * time.Hour}, c.Poll)

	// 388.5 summed over 8 GPUs is 48.6%: below this file's 80%.
	gpu, err := ParseAlarm(readCase(t, "cloudwatch/alarm_sagemaker_gpuutilization_alarm.json"))
	require.NoError(t, err)
	_, ok := FindMatch(c.Rules, []Alert{gpu})
	require.False(t, ok)

	mem, err := ParseAlarm(readCase(t, "cloudwatch/alarm_elasticache_databasememoryusage_alarm.json"))
	require.NoError(t, err)
	m, ok := FindMatch(c.Rules, []Alert{mem})
	require.True(t, ok)
	require.Equal(t, "memory 91.7% > 75% on cato-cache-production-001", m.Text)
	require.True(t, m.Rule.Approval)
}
