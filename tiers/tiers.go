// Package tiers holds the runbook's "Scaling by User Scale" sections as data: for each
// user-scale tier, the steps to run in order and the lines that are information only, such as
// the budget. The bot previews every step against live state, shows the tier as one card, and
// runs the steps in order, stopping at the first failure.
package tiers

import (
	"sort"
	"strings"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/terraform"
)

// Tier is one user-scale tier of the runbook.
type Tier struct {
	// Name is what people type after /cato tier: "1m", "10m".
	Name string
	// Title is the tier in words: "100K → 1M users".
	Title string
	// Steps are the runbook's steps, in the order to run them. Each is an ordinary request that
	// the component's action previews and runs.
	Steps []actions.Request
	// Info are lines to show with the steps that the bot does not carry out: the budget, and
	// runbook steps that are not automated, with the reason.
	Info []string
}

// Tier names.
const (
	Tier1M  = "1m"
	Tier10M = "10m"
)

// Tiers returns the runbook's user-scale tiers by name. Each call returns a fresh copy.
func Tiers() map[string]Tier {
	return map[string]Tier{
		Tier1M: {
			Name:  Tier1M,
			Title: "100K → 1M users",
			Steps: []actions.Request{
				{Component: actions.Shadow, Verb: actions.VerbScale, Args: []string{"50"}},
				{Component: actions.Ray, Verb: actions.VerbScale, Args: []string{"50"}},
				{Component: actions.Cache, Verb: actions.VerbScale, Args: []string{"cache.r7g.2xlarge"}},
				{Component: actions.Terraform, Verb: terraform.VerbApply, Args: []string{
					"shadow_self_min_instances=50", "cache_node_type=cache.r7g.2xlarge"}},
			},
			Info: []string{
				"Budget: $500 → $2,000/month",
			},
		},
		Tier10M: {
			Name:  Tier10M,
			Title: "1M → 10M users",
			Steps: []actions.Request{
				{Component: actions.Shadow, Verb: actions.VerbScale, Args: []string{"250"}},
				{Component: actions.Ray, Verb: actions.VerbScale, Args: []string{"100"}},
				{Component: actions.Terraform, Verb: terraform.VerbApply, Args: []string{
					"enable_global_tables=true", `replica_regions=["eu-west-1","ap-northeast-1"]`}},
			},
			Info: []string{
				"Budget: $2,000 → $100,000/month",
				"Multi-region: the Terraform step enables global tables with replicas in eu-west-1 " +
					"and ap-northeast-1",
				"ElastiCache: add cluster mode, 6 shards — not automated. Turning cluster mode on is " +
					"a migration, not a one-click step: the data moves to a new cluster-mode " +
					"replication group whose keys are spread over 6 shards, and every client must " +
					"switch to cluster-aware connections. Plan it with the team.",
				"A -var value lasts for one apply: unless the 1M tier's shadow_self_min_instances " +
					"and cache_node_type were committed to the tfvars, the Terraform preview shows " +
					"them going back to the tfvars values. Read that preview before confirming.",
				"Cost: at 10M users SageMaker is about $275K/month; a 3-year Savings Plan saves " +
					"about 64%. The bot never buys one; see /cato cost.",
			},
		},
	}
}

// Names returns the tier names, smallest tier first.
func Names() []string {
	names := make([]string, 0, 2)
	for n := range Tiers() {
		names = append(names, n)
	}
	// "1m" before "10m": shorter names are smaller tiers.
	sort.Slice(names, func(i, j int) bool {
		if len(names[i]) != len(names[j]) {
			return len(names[i]) < len(names[j])
		}
		return names[i] < names[j]
	})
	return names
}

// Lookup returns the named tier (case does not matter), or an *actions.Error of kind
// KindUsage that lists the known tiers.
func Lookup(name string) (Tier, error) {
	if t, ok := Tiers()[strings.ToLower(strings.TrimSpace(name))]; ok {
		return t, nil
	}
	return Tier{}, actions.Usagef("unknown tier %q; known tiers: %s (for example /cato tier 1m)", name,
		strings.Join(Names(), ", "))
}
