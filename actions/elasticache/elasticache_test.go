package elasticache_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec "github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/actions/elasticache"
	"github.com/thinktank/catobot/fakes/elasticachefake"
	"github.com/thinktank/catobot/internal/awstest"
	"github.com/thinktank/catobot/internal/configtest"
)

const (
	group = "cato-cache-production"
)

type env struct {
	action *elasticache.Action
	fake   *elasticachefake.Fake
}

func setup(t *testing.T, dryRun bool, groups ...elasticachefake.Group) env {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fake := elasticachefake.New(groups...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	client := ec.NewFromConfig(awstest.Config(srv.URL, func(c *aws.Config) { c.HTTPClient = srv.Client() }))
	cfg := elasticache.DefaultConfig()
	cfg.PollInterval, cfg.MaxPollInterval, cfg.WaitTimeout = time.Millisecond, 2*time.Millisecond, time.Minute
	a, err := elasticache.New(cfg, client, elasticache.Options{DryRun: dryRun})
	require.NoError(t, err)
	return env{action: a, fake: fake}
}

// lines collects progress lines.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

func TestStatus(t *testing.T) {
	busy := elasticachefake.Cato()
	busy.MemberStatus = map[string]string{group + "-002": "creating"}
	sharded := elasticachefake.Cato()
	sharded.ClusterMode, sharded.Shards, sharded.Replicas = "enabled", 2, 1

	tests := []struct {
		name  string
		group elasticachefake.Group
		want  actions.Status
	}{
		{
			name:  "available",
			group: elasticachefake.Cato(),
			want: actions.Status{
				Component: actions.Cache, Title: "ElastiCache", Target: group, State: "available",
				Fields: []actions.Field{
					{Name: "node type", Value: "cache.r7g.xlarge"},
					{Name: "member clusters", Value: group + "-001, " + group + "-002"},
					{Name: "replicas per node group", Value: "1"},
					{Name: "node groups", Value: "1"},
					{Name: "cluster mode", Value: "disabled"},
				},
			},
		},
		{
			name:  "cluster mode, two shards",
			group: sharded,
			want: actions.Status{
				Component: actions.Cache, Title: "ElastiCache", Target: group, State: "available",
				Fields: []actions.Field{
					{Name: "node type", Value: "cache.r7g.xlarge"},
					{Name: "member clusters", Value: group + "-0001-001, " + group + "-0001-002, " +
						group + "-0002-001, " + group + "-0002-002"},
					{Name: "replicas per node group", Value: "1"},
					{Name: "node groups", Value: "2"},
					{Name: "cluster mode", Value: "enabled"},
				},
			},
		},
		{
			name:  "member creating",
			group: busy,
			want: actions.Status{
				Component: actions.Cache, Title: "ElastiCache", Target: group, State: "available",
				Fields: []actions.Field{
					{Name: "node type", Value: "cache.r7g.xlarge"},
					{Name: "member clusters", Value: group + "-001, " + group + "-002"},
					{Name: "replicas per node group", Value: "1"},
					{Name: "node groups", Value: "1"},
					{Name: "cluster mode", Value: "disabled"},
					{Name: "members not available", Value: group + "-002 creating"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false, tt.group)
			got, err := e.action.Status(context.Background())
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Status() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestStatusNotFound(t *testing.T) {
	other := elasticachefake.Cato()
	other.ID = "cato-cache-staging"
	e := setup(t, false, other)

	_, err := e.action.Status(context.Background())
	require.Error(t, err)
	require.Equal(t, actions.KindNotFound, actions.KindOf(err))
	require.Equal(t, "replication group cato-cache-production does not exist", actions.Explain(err))
}

func TestPlanScale(t *testing.T) {
	modifying := elasticachefake.Cato()
	modifying.Status = "modifying"
	creating := elasticachefake.Cato()
	creating.MemberStatus = map[string]string{group + "-002": "creating"}
	top := elasticachefake.Cato()
	top.NodeType, top.AllowedUp = "cache.r7g.16xlarge", nil

	tests := []struct {
		name     string
		group    elasticachefake.Group
		args     []string
		want     actions.Plan
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "node type", args: []string{"cache.r7g.4xlarge"},
			want: actions.Plan{
				Component: actions.Cache, Verb: actions.VerbScale, Target: group,
				Summary: "ElastiCache cato-cache-production: cache.r7g.xlarge → cache.r7g.4xlarge (downtime)",
				Changes: []actions.Change{{Field: "node_type", From: "cache.r7g.xlarge", To: "cache.r7g.4xlarge"}},
				Params:  map[string]string{"node_type": "cache.r7g.4xlarge"},
				Warnings: []string{
					"This causes downtime: ElastiCache replaces every node of cato-cache-production " +
						"with a cache.r7g.4xlarge node, and clients lose their connections while it happens.",
					"The next size up from cache.r7g.xlarge is cache.r7g.2xlarge.",
				},
				Downtime: true,
			},
		},
		{
			name: "next size up", args: []string{"next"},
			want: actions.Plan{
				Component: actions.Cache, Verb: actions.VerbScale, Target: group,
				Summary: "ElastiCache cato-cache-production: cache.r7g.xlarge → cache.r7g.2xlarge (downtime)",
				Changes: []actions.Change{{Field: "node_type", From: "cache.r7g.xlarge", To: "cache.r7g.2xlarge"}},
				Params:  map[string]string{"node_type": "cache.r7g.2xlarge"},
				Warnings: []string{
					"This causes downtime: ElastiCache replaces every node of cato-cache-production " +
						"with a cache.r7g.2xlarge node, and clients lose their connections while it happens.",
				},
				Downtime: true,
			},
		},
		{
			name: "scale down", args: []string{"Cache.R7G.Large"},
			want: actions.Plan{
				Component: actions.Cache, Verb: actions.VerbScale, Target: group,
				Summary: "ElastiCache cato-cache-production: cache.r7g.xlarge → cache.r7g.large (downtime)",
				Changes: []actions.Change{{Field: "node_type", From: "cache.r7g.xlarge", To: "cache.r7g.large"}},
				Params:  map[string]string{"node_type": "cache.r7g.large"},
				Warnings: []string{
					"This causes downtime: ElastiCache replaces every node of cato-cache-production " +
						"with a cache.r7g.large node, and clients lose their connections while it happens.",
					"cache.r7g.large is smaller than cache.r7g.xlarge: check that the data and memory use fit before scaling down.",
				},
				Downtime: true,
			},
		},
		{
			name: "no argument", wantKind: actions.KindUsage,
			wantMsg: "usage: scale cache NODE_TYPE (e.g. cache.r7g.2xlarge) or scale cache next",
		},
		{
			name: "bad syntax", args: []string{"r7g.2xlarge"}, wantKind: actions.KindUsage,
			wantMsg: `"r7g.2xlarge" is not a node type; write cache.<family>.<size>, e.g. cache.r7g.2xlarge`,
		},
		{
			name: "same type", args: []string{"cache.r7g.xlarge"}, wantKind: actions.KindUsage,
			wantMsg: "cato-cache-production already runs cache.r7g.xlarge",
		},
		{
			name: "not allowed", args: []string{"cache.m7g.2xlarge"}, wantKind: actions.KindRefused,
			wantMsg: "cato-cache-production cannot move from cache.r7g.xlarge to cache.m7g.2xlarge; allowed node types: " +
				"cache.r7g.2xlarge, cache.r7g.4xlarge, cache.r7g.8xlarge, cache.r7g.12xlarge, cache.r7g.16xlarge, cache.r7g.large",
		},
		{
			name: "next from the largest", group: top, args: []string{"next"}, wantKind: actions.KindRefused,
			wantMsg: "there is no larger r7g size to move cache.r7g.16xlarge to; name the node type",
		},
		{
			name: "group modifying", group: modifying, args: []string{"next"}, wantKind: actions.KindBusy,
			wantMsg: "cato-cache-production is modifying, not available; wait until it is available, then try again",
		},
		{
			name: "member creating", group: creating, args: []string{"next"}, wantKind: actions.KindBusy,
			wantMsg: "cato-cache-production has member clusters that are not available " +
				"(cato-cache-production-002 creating); wait until they are, then try again",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.group
			if g.ID == "" {
				g = elasticachefake.Cato()
			}
			e := setup(t, false, g)

			got, err := e.action.Plan(context.Background(), actions.Request{
				Component: actions.Cache, Verb: actions.VerbScale, Args: tt.args,
			})
			if tt.wantMsg != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantKind, actions.KindOf(err))
				require.Equal(t, tt.wantMsg, actions.Explain(err))
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Plan() mismatch (-got +want):\n%s", diff)
			}
			require.Zero(t, e.fake.Recorder.Count("ModifyReplicationGroup"))
		})
	}
}

func TestPlanReplicas(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     actions.Plan
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "increase", args: []string{"3"},
			want: actions.Plan{
				Component: actions.Cache, Verb: actions.VerbReplicas, Target: group,
				Summary: "ElastiCache cato-cache-production: 1 → 3 replicas per node group",
				Changes: []actions.Change{{Field: "replicas", From: "1", To: "3"}},
				Params:  map[string]string{"replicas": "3", "operation": "IncreaseReplicaCount"},
			},
		},
		{
			name: "relative", args: []string{"+1"},
			want: actions.Plan{
				Component: actions.Cache, Verb: actions.VerbReplicas, Target: group,
				Summary: "ElastiCache cato-cache-production: 1 → 2 replicas per node group",
				Changes: []actions.Change{{Field: "replicas", From: "1", To: "2"}},
				Params:  map[string]string{"replicas": "2", "operation": "IncreaseReplicaCount"},
			},
		},
		{
			name: "to zero", args: []string{"0"},
			want: actions.Plan{
				Component: actions.Cache, Verb: actions.VerbReplicas, Target: group,
				Summary: "ElastiCache cato-cache-production: 1 → 0 replicas per node group",
				Changes: []actions.Change{{Field: "replicas", From: "1", To: "0"}},
				Params:  map[string]string{"replicas": "0", "operation": "DecreaseReplicaCount"},
				Warnings: []string{
					"Fewer replicas means less read capacity and fewer failover targets.",
					"With no replicas there is no failover target; ElastiCache refuses this while " +
						"automatic failover or Multi-AZ is on.",
				},
			},
		},
		{
			name: "not a number", args: []string{"three"}, wantKind: actions.KindUsage,
			wantMsg: `"three" is not a whole number of replicas; usage: replicas cache N (read replicas per node group)`,
		},
		{
			name: "fraction", args: []string{"2.5"}, wantKind: actions.KindUsage,
			wantMsg: `"2.5" is not a whole number of replicas; usage: replicas cache N (read replicas per node group)`,
		},
		{
			name: "above the limit", args: []string{"6"}, wantKind: actions.KindUsage,
			wantMsg: "6 replicas is above the highest allowed, 5",
		},
		{
			name: "negative", args: []string{"-3"}, wantKind: actions.KindUsage,
			wantMsg: "-2 replicas is below the lowest allowed, 0",
		},
		{
			name: "unchanged", args: []string{"1"}, wantKind: actions.KindUsage,
			wantMsg: "cato-cache-production already has 1 replicas per node group",
		},
		{
			name: "no argument", wantKind: actions.KindUsage,
			wantMsg: "usage: replicas cache N (read replicas per node group)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false)

			got, err := e.action.Plan(context.Background(), actions.Request{
				Component: actions.Cache, Verb: actions.VerbReplicas, Args: tt.args,
			})
			if tt.wantMsg != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantKind, actions.KindOf(err))
				require.Equal(t, tt.wantMsg, actions.Explain(err))
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Plan() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestPlanUnknownVerb(t *testing.T) {
	e := setup(t, false)
	_, err := e.action.Plan(context.Background(), actions.Request{Component: actions.Cache, Verb: actions.VerbHPA})
	require.Equal(t, actions.KindUsage, actions.KindOf(err))
	require.Contains(t, actions.Explain(err), `cache does not support "hpa"`)
}

func TestRun(t *testing.T) {
	tests := []struct {
		name         string
		req          actions.Request
		wantProgress []string
		wantSummary  string
		check        func(t *testing.T, g elasticachefake.Group)
	}{
		{
			name: "scale",
			req:  actions.Request{Component: actions.Cache, Verb: actions.VerbScale, Args: []string{"next"}},
			wantProgress: []string{
				"ModifyReplicationGroup accepted; cato-cache-production is modifying",
				"modifying: 1/2 nodes on cache.r7g.2xlarge",
				"available",
			},
			wantSummary: "cato-cache-production now runs cache.r7g.2xlarge (available)",
			check: func(t *testing.T, g elasticachefake.Group) {
				require.Equal(t, "cache.r7g.2xlarge", g.NodeType)
			},
		},
		{
			name: "add replicas",
			req:  actions.Request{Component: actions.Cache, Verb: actions.VerbReplicas, Args: []string{"3"}},
			wantProgress: []string{
				"IncreaseReplicaCount accepted; cato-cache-production is modifying",
				"modifying: 2/4 member clusters available",
				"available",
			},
			wantSummary: "cato-cache-production now has 3 replicas per node group (available)",
			check: func(t *testing.T, g elasticachefake.Group) {
				require.Equal(t, 3, g.Replicas)
			},
		},
		{
			name: "remove replicas",
			req:  actions.Request{Component: actions.Cache, Verb: actions.VerbReplicas, Args: []string{"0"}},
			wantProgress: []string{
				"DecreaseReplicaCount accepted; cato-cache-production is modifying",
				"modifying: 1/2 member clusters available",
				"available",
			},
			wantSummary: "cato-cache-production now has 0 replicas per node group (available)",
			check: func(t *testing.T, g elasticachefake.Group) {
				require.Equal(t, 0, g.Replicas)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false)
			ctx := context.Background()
			p, err := e.action.Plan(ctx, tt.req)
			require.NoError(t, err)

			var l lines
			res, err := e.action.Run(ctx, p, l.add)
			require.NoError(t, err)
			require.Equal(t, tt.wantSummary, res.Summary)
			require.False(t, res.DryRun)
			if diff := cmp.Diff(l.got, tt.wantProgress); diff != "" {
				t.Errorf("progress mismatch (-got +want):\n%s", diff)
			}
			g, ok := e.fake.Group(group)
			require.True(t, ok)
			require.Equal(t, "available", g.Status)
			tt.check(t, g)
		})
	}
}

func TestRunDryRun(t *testing.T) {
	tests := []struct {
		name string
		req  actions.Request
		want string
	}{
		{
			name: "scale",
			req:  actions.Request{Component: actions.Cache, Verb: actions.VerbScale, Args: []string{"cache.r7g.2xlarge"}},
			want: "dry run: would call ModifyReplicationGroup(replication_group_id=cato-cache-production, " +
				"cache_node_type=cache.r7g.2xlarge, apply_immediately=true)",
		},
		{
			name: "replicas",
			req:  actions.Request{Component: actions.Cache, Verb: actions.VerbReplicas, Args: []string{"5"}},
			want: "dry run: would call IncreaseReplicaCount(replication_group_id=cato-cache-production, " +
				"new_replica_count=5, apply_immediately=true)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, true)
			ctx := context.Background()
			p, err := e.action.Plan(ctx, tt.req)
			require.NoError(t, err)

			res, err := e.action.Run(ctx, p, nil)
			require.NoError(t, err)
			require.Equal(t, actions.Result{DryRun: true, Summary: tt.want}, res)
			for _, c := range e.fake.Recorder.Calls() {
				require.Truef(t, strings.HasPrefix(c.Op, "Describe") || strings.HasPrefix(c.Op, "List"),
					"dry run made the mutating call %s", c.Op)
			}
			g, _ := e.fake.Group(group)
			require.Equal(t, elasticachefake.Cato().NodeType, g.NodeType)
			require.Equal(t, 1, g.Replicas)
		})
	}
}

func TestRunAPIErrors(t *testing.T) {
	scale := actions.Request{Component: actions.Cache, Verb: actions.VerbScale, Args: []string{"next"}}
	down := actions.Request{Component: actions.Cache, Verb: actions.VerbReplicas, Args: []string{"0"}}

	tests := []struct {
		name     string
		req      actions.Request
		op       string
		failure  elasticachefake.Failure
		wantKind actions.Kind
		wantMsg  string
	}{
		{
			name: "group changing", req: scale, op: "ModifyReplicationGroup",
			failure: elasticachefake.Failure{Code: "InvalidReplicationGroupState",
				Message: "Replication group must be in available state to modify."},
			wantKind: actions.KindBusy,
			wantMsg: "cato-cache-production is not in a state that allows this change " +
				"(Replication group must be in available state to modify.); wait until it is available and try again",
		},
		{
			name: "bad value", req: scale, op: "ModifyReplicationGroup",
			failure:  elasticachefake.Failure{Code: "InvalidParameterValue", Message: "Invalid CacheNodeType."},
			wantKind: actions.KindUsage, wantMsg: "ElastiCache refused the request: Invalid CacheNodeType.",
		},
		{
			name: "bad combination", req: down, op: "DecreaseReplicaCount",
			failure: elasticachefake.Failure{Code: "InvalidParameterCombination",
				Message: "Cannot remove all replicas while automatic failover is enabled."},
			wantKind: actions.KindUsage,
			wantMsg:  "ElastiCache refused the request: Cannot remove all replicas while automatic failover is enabled.",
		},
		{
			name: "no capacity", req: scale, op: "ModifyReplicationGroup",
			failure: elasticachefake.Failure{Code: "InsufficientCacheClusterCapacity",
				Message: "cache.r7g.2xlarge is not available in us-east-1a."},
			wantKind: actions.KindRefused,
			wantMsg: "AWS has no capacity for that node type in this region right now " +
				"(cache.r7g.2xlarge is not available in us-east-1a.); try another node type or later",
		},
		{
			name: "node quota", req: actions.Request{Component: actions.Cache, Verb: actions.VerbReplicas, Args: []string{"5"}},
			op: "IncreaseReplicaCount",
			failure: elasticachefake.Failure{Code: "NodeQuotaForCustomerExceeded",
				Message: "The request would exceed the node quota for this customer."},
			wantKind: actions.KindRefused,
			wantMsg: "the change would exceed the account's ElastiCache node quota " +
				"(The request would exceed the node quota for this customer.); ask for a quota increase first",
		},
		{
			name: "group gone", req: scale, op: "ModifyReplicationGroup",
			failure: elasticachefake.Failure{Status: http.StatusNotFound, Code: "ReplicationGroupNotFoundFault",
				Message: "ReplicationGroup cato-cache-production not found."},
			wantKind: actions.KindNotFound, wantMsg: "replication group cato-cache-production does not exist",
		},
		{
			name: "throttled", req: scale, op: "ModifyReplicationGroup",
			failure:  elasticachefake.Failure{Code: "Throttling", Message: "Rate exceeded"},
			wantKind: actions.KindUnavailable,
			wantMsg:  "ElastiCache is throttling the bot's requests; try again in a minute",
		},
		{
			name: "server error", req: scale, op: "ModifyReplicationGroup",
			failure:  elasticachefake.Failure{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "down"},
			wantKind: actions.KindUnavailable,
			wantMsg:  "ElastiCache is having trouble (ServiceUnavailable); try again in a few minutes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, false)
			ctx := context.Background()
			p, err := e.action.Plan(ctx, tt.req)
			require.NoError(t, err)
			e.fake.Fail(tt.op, tt.failure)

			_, err = e.action.Run(ctx, p, nil)
			require.Error(t, err)
			require.Equal(t, tt.wantKind, actions.KindOf(err))
			require.Equal(t, tt.wantMsg, actions.Explain(err))
			require.NotContains(t, err.Error(), awstest.SecretKey)
			require.NotContains(t, err.Error(), awstest.AccessKey)
		})
	}
}

func TestPlanThrottled(t *testing.T) {
	e := setup(t, false)
	e.fake.Fail("DescribeReplicationGroups", elasticachefake.Failure{Code: "Throttling", Message: "Rate exceeded"})

	_, err := e.action.Plan(context.Background(), actions.Request{
		Component: actions.Cache, Verb: actions.VerbScale, Args: []string{"next"},
	})
	require.Equal(t, actions.KindUnavailable, actions.KindOf(err))
	require.True(t, actions.Retryable(err))
}

func TestFollowGivesUp(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{Component: actions.Cache, Verb: actions.VerbScale, Args: []string{"next"}})
	require.NoError(t, err)
	e.fake.SetSteps(1 << 30)

	cfg := elasticache.DefaultConfig()
	cfg.PollInterval, cfg.MaxPollInterval, cfg.WaitTimeout = time.Millisecond, time.Millisecond, 20*time.Millisecond
	a, err := elasticache.New(cfg, clientFor(t, e), elasticache.Options{})
	require.NoError(t, err)
	_, err = a.Run(ctx, p, nil)
	require.Equal(t, actions.KindBusy, actions.KindOf(err))
	require.False(t, actions.Retryable(err))
	// What was last seen depends on how many reads fit in the timeout.
	require.True(t, strings.HasPrefix(actions.Explain(err), "cato-cache-production was not available within 20ms; "+
		"the change goes on in ElastiCache, check it with status cache"), actions.Explain(err))
}

// clientFor returns a second client on e's fake.
func clientFor(t *testing.T, e env) *ec.Client {
	t.Helper()
	srv := httptest.NewServer(e.fake)
	t.Cleanup(srv.Close)
	return ec.NewFromConfig(awstest.Config(srv.URL))
}

func TestConfig(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
	}{
		{file: "conf.good.yml"},
		{file: "conf.empty_id.yml", wantErr: "replication_group_id must not be empty"},
		{file: "conf.replicas_max.yml", wantErr: "replicas: max must be at most 5, ElastiCache's limit, got 6"},
		{file: "conf.replicas_order.yml", wantErr: "replicas: max (2) must not be below min (3)"},
		{file: "conf.poll_interval.yml", wantErr: "poll_interval must be positive, got 0s"},
		{file: "conf.max_poll_interval.yml", wantErr: "max_poll_interval (10s) must not be below poll_interval (1m0s)"},
		{file: "conf.unknown_key.yml", wantErr: "field replication_grup_id not found"},
	}
	require.NoError(t, elasticache.DefaultConfig().Validate())
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := configtest.Load(t, tt.file, elasticache.DefaultConfig())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestFollowToleratesAFailedRead(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	p, err := e.action.Plan(ctx, actions.Request{Component: actions.Cache, Verb: actions.VerbScale, Args: []string{"next"}})
	require.NoError(t, err)
	e.fake.Fail("DescribeReplicationGroups", elasticachefake.Failure{Code: "Throttling", Message: "Rate exceeded", Times: 1})

	res, err := e.action.Run(ctx, p, nil)
	require.NoError(t, err)
	require.Equal(t, "cato-cache-production now runs cache.r7g.2xlarge (available)", res.Summary)
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := elasticache.DefaultConfig()
	cfg.ReplicationGroupID = ""
	_, err := elasticache.New(cfg, &ec.Client{}, elasticache.Options{})
	require.EqualError(t, err, "elasticache config: replication_group_id must not be empty")
}
