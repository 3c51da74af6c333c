package tiers

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/rayserve"
	"github.com/thinktank/catobot/actions/sagemaker"
	"github.com/thinktank/catobot/actions/terraform"
)

// nodeTypeRe is an ElastiCache node type such as cache.r7g.2xlarge.
var nodeTypeRe = regexp.MustCompile(`^cache\.[a-z0-9]+\.[a-z0-9]+$`)

// checkStep says whether step is a request its component accepts, without any live system:
// counts within the component's default limits, a node type's form, and Terraform variables
// through the terraform action itself (with no binary, a valid request fails only at finding
// the binary).
func checkStep(t *testing.T, step actions.Request) {
	t.Helper()
	switch step.Component {
	case actions.Shadow:
		require.Equal(t, actions.VerbScale, step.Verb)
		require.Len(t, step.Args, 1)
		lim := sagemaker.DefaultShadowConfig().Limits
		_, err := actions.ParseCount(step.Args[0], 0, lim.Min, lim.Max, "instances")
		require.NoError(t, err)
	case actions.Ray:
		require.Equal(t, actions.VerbScale, step.Verb)
		require.Len(t, step.Args, 1)
		lim := rayserve.DefaultConfig().Limits
		_, err := actions.ParseCount(step.Args[0], 0, lim.Min, lim.Max, "replicas")
		require.NoError(t, err)
	case actions.Cache:
		require.Equal(t, actions.VerbScale, step.Verb)
		require.Len(t, step.Args, 1)
		require.Regexp(t, nodeTypeRe, step.Args[0])
	case actions.Terraform:
		require.Equal(t, terraform.VerbApply, step.Verb)
		cfg := terraform.DefaultConfig()
		cfg.Dir = t.TempDir()
		cfg.Binary = filepath.Join(t.TempDir(), "no-terraform")
		a, err := terraform.New(cfg, terraform.Options{})
		require.NoError(t, err)
		_, err = a.Plan(context.Background(), step)
		require.Equal(t, actions.KindUnavailable, actions.KindOf(err), "%v", err)
	default:
		t.Fatalf("step %q names an unknown component", step)
	}
}

func TestTiers(t *testing.T) {
	tests := []struct {
		name  string
		steps []string
		info  string
	}{
		{name: "1m", info: "Budget: $500 → $2,000/month", steps: []string{
			"scale shadow 50",
			"scale ray 50",
			"scale cache cache.r7g.2xlarge",
			"apply terraform shadow_self_min_instances=50 cache_node_type=cache.r7g.2xlarge",
		}},
		{name: "10m", info: "Budget: $2,000 → $100,000/month", steps: []string{
			"scale shadow 250",
			"scale ray 100",
			`apply terraform enable_global_tables=true replica_regions=["eu-west-1","ap-northeast-1"]`,
		}},
	}
	require.Len(t, Tiers(), len(tests))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tier, err := Lookup(tt.name)
			require.NoError(t, err)
			require.Equal(t, tt.name, tier.Name)
			require.NotEmpty(t, tier.Title)
			var got []string
			for _, s := range tier.Steps {
				got = append(got, s.String())
				checkStep(t, s)
			}
			require.Equal(t, tt.steps, got)
			require.Equal(t, tt.info, tier.Info[0])
		})
	}
}

func TestNotAutomatedSaysWhy(t *testing.T) {
	tier, err := Lookup("10M")
	require.NoError(t, err)
	require.Contains(t, tier.Info, "ElastiCache: add cluster mode, 6 shards — not automated. Turning "+
		"cluster mode on is a migration, not a one-click step: the data moves to a new cluster-mode "+
		"replication group whose keys are spread over 6 shards, and every client must switch to "+
		"cluster-aware connections. Plan it with the team.")
}

func TestLookupUnknown(t *testing.T) {
	_, err := Lookup("100m")
	require.Error(t, err)
	require.Equal(t, actions.KindUsage, actions.KindOf(err))
	require.Equal(t, `unknown tier "100m"; known tiers: 1m, 10m (for example /cato tier 1m)`,
		actions.Explain(err))
	require.Equal(t, []string{"1m", "10m"}, Names())
}

func TestTiersAreCopies(t *testing.T) {
	a := Tiers()
	a[Tier1M].Steps[0].Args[0] = "5000"
	require.Equal(t, "50", Tiers()[Tier1M].Steps[0].Args[0])
}
