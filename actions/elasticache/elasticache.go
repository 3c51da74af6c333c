// Package elasticache carries out the runbook's ElastiCache (Valkey) steps
// on one replication group: a vertical scale to another node type
// (ModifyReplicationGroup, applied immediately, which causes downtime) and a
// change of the read replicas per node group (IncreaseReplicaCount and
// DecreaseReplicaCount). A group that is not available, or has a member
// cluster that is not, is reported with its state and left alone. Progress
// is followed with the SDK's ReplicationGroupAvailable waiter.
package elasticache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec "github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/thinktank/catobot/actions"
)

// API is the part of the ElastiCache client the action calls.
type API interface {
	ec.DescribeReplicationGroupsAPIClient
	ec.DescribeCacheClustersAPIClient
	ModifyReplicationGroup(ctx context.Context, in *ec.ModifyReplicationGroupInput,
		optFns ...func(*ec.Options)) (*ec.ModifyReplicationGroupOutput, error)
	IncreaseReplicaCount(ctx context.Context, in *ec.IncreaseReplicaCountInput,
		optFns ...func(*ec.Options)) (*ec.IncreaseReplicaCountOutput, error)
	DecreaseReplicaCount(ctx context.Context, in *ec.DecreaseReplicaCountInput,
		optFns ...func(*ec.Options)) (*ec.DecreaseReplicaCountOutput, error)
	ListAllowedNodeTypeModifications(ctx context.Context, in *ec.ListAllowedNodeTypeModificationsInput,
		optFns ...func(*ec.Options)) (*ec.ListAllowedNodeTypeModificationsOutput, error)
}

var _ API = (*ec.Client)(nil)

// Options are the action's process settings: DryRun and Logger.
type Options = actions.Options

// Action reads and changes one replication group. It implements
// actions.Action and actions.Follower.
type Action struct {
	cfg    Config
	api    API
	dryRun bool
	log    *slog.Logger
}

var (
	_ actions.Action   = (*Action)(nil)
	_ actions.Follower = (*Action)(nil)
)

// New returns the cache action for cfg's replication group, calling
// ElastiCache through api. It returns an error when cfg is not valid.
func New(cfg Config, api API, opts Options) (*Action, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("elasticache config: %w", err)
	}
	if api == nil {
		return nil, errors.New("elasticache: no client")
	}
	return &Action{
		cfg:    cfg,
		api:    api,
		dryRun: opts.DryRun,
		log:    opts.Log("component", actions.Cache, "replication_group", cfg.ReplicationGroupID),
	}, nil
}

// Config returns the action's configuration.
func (a *Action) Config() Config { return a.cfg }

const (
	title         = "ElastiCache"
	available     = "available"
	paramNodeType = "node_type"
	paramReplicas = "replicas"
	paramOp       = "operation"
	opIncrease    = "IncreaseReplicaCount"
	opDecrease    = "DecreaseReplicaCount"
	opModify      = "ModifyReplicationGroup"
	scaleUsage    = "usage: scale cache NODE_TYPE (e.g. cache.r7g.2xlarge) or scale cache next"
	replicasUsage = "usage: replicas cache N (read replicas per node group)"
)

// Status reads the group: state, node type, member clusters, replicas per
// node group and cluster mode.
func (a *Action) Status(ctx context.Context) (actions.Status, error) {
	g, err := a.group(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	clusters, err := a.clusters(ctx)
	if err != nil {
		return actions.Status{}, err
	}

	return actions.Status{
		Component: actions.Cache,
		Title:     title,
		Target:    a.cfg.ReplicationGroupID,
		State:     aws.ToString(g.Status),
		Fields:    fields(g, clusters),
	}, nil
}

func fields(g types.ReplicationGroup, clusters []types.CacheCluster) []actions.Field {
	lo, hi := replicaCounts(g)
	fs := []actions.Field{
		{Name: "node type", Value: aws.ToString(g.CacheNodeType)},
		{Name: "member clusters", Value: strings.Join(g.MemberClusters, ", ")},
		{Name: "replicas per node group", Value: countRange(lo, hi)},
		{Name: "node groups", Value: strconv.Itoa(max(len(g.NodeGroups), 1))},
		{Name: "cluster mode", Value: clusterMode(g)},
	}
	if busy := busyMembers(clusters); len(busy) > 0 {
		fs = append(fs, actions.Field{Name: "members not available", Value: strings.Join(busy, ", ")})
	}
	return fs
}

func clusterMode(g types.ReplicationGroup) string {
	if g.ClusterMode != "" {
		return string(g.ClusterMode)
	}
	if aws.ToBool(g.ClusterEnabled) {
		return "enabled"
	}
	return "disabled"
}

// Plan works out `scale cache NODE_TYPE|next` or `replicas cache N`.
func (a *Action) Plan(ctx context.Context, req actions.Request) (actions.Plan, error) {
	switch req.Verb {
	case actions.VerbScale:
		return a.planScale(ctx, req.Args)
	case actions.VerbReplicas:
		return a.planReplicas(ctx, req.Args)
	}
	return actions.Plan{}, actions.Usagef("cache does not support %q; %s, or %s",
		req.Verb, scaleUsage, replicasUsage)
}

func (a *Action) planScale(ctx context.Context, args []string) (actions.Plan, error) {
	if len(args) != 1 {
		return actions.Plan{}, actions.Usagef("%s", scaleUsage)
	}
	want := strings.ToLower(strings.TrimSpace(args[0]))
	if want != "next" {
		if _, _, err := parseNodeType(want); err != nil {
			return actions.Plan{}, err
		}
	}
	g, err := a.ready(ctx)
	if err != nil {
		return actions.Plan{}, err
	}
	current := aws.ToString(g.CacheNodeType)

	var up, down []string
	if a.cfg.CheckAllowedNodeTypes {
		in := &ec.ListAllowedNodeTypeModificationsInput{ReplicationGroupId: aws.String(a.cfg.ReplicationGroupID)}
		out, err := a.api.ListAllowedNodeTypeModifications(ctx, in)
		if err != nil {
			return actions.Plan{}, explain(err, "ListAllowedNodeTypeModifications", a.cfg.ReplicationGroupID)
		}
		up, down = out.ScaleUpModifications, out.ScaleDownModifications
	}

	target := want
	if want == "next" {
		target, err = nextSize(current, up, a.cfg.CheckAllowedNodeTypes)
		if err != nil {
			return actions.Plan{}, err
		}
	}
	if target == current {
		return actions.Plan{}, actions.Usagef("%s already runs %s", a.cfg.ReplicationGroupID, current)
	}
	if a.cfg.CheckAllowedNodeTypes && !slices.Contains(up, target) && !slices.Contains(down, target) {
		return actions.Plan{}, notAllowed(a.cfg.ReplicationGroupID, current, target, up, down)
	}
	return a.scalePlan(current, target, slices.Contains(down, target) || smaller(target, current)), nil
}

func (a *Action) scalePlan(current, target string, down bool) actions.Plan {
	id := a.cfg.ReplicationGroupID
	warnings := []string{fmt.Sprintf("This causes downtime: ElastiCache replaces every node of %s "+
		"with a %s node, and clients lose their connections while it happens.", id, target)}
	if down {
		warnings = append(warnings, fmt.Sprintf("%s is smaller than %s: check that the data "+
			"and memory use fit before scaling down.", target, current))
	}
	if next, err := nextSize(current, nil, false); err == nil && next != target && !down {
		warnings = append(warnings, fmt.Sprintf("The next size up from %s is %s.", current, next))
	}
	return actions.Plan{
		Component: actions.Cache,
		Verb:      actions.VerbScale,
		Target:    id,
		Summary:   fmt.Sprintf("%s %s: %s → %s (downtime)", title, id, current, target),
		Changes:   []actions.Change{{Field: paramNodeType, From: current, To: target}},
		Params:    map[string]string{paramNodeType: target},
		Warnings:  warnings,
		Downtime:  true,
	}
}

func notAllowed(id, current, target string, up, down []string) error {
	allowed := append(append([]string(nil), up...), down...)
	if len(allowed) == 0 {
		return &actions.Error{Kind: actions.KindRefused,
			Msg: fmt.Sprintf("ElastiCache lists no node type %s can move to from %s", id, current)}
	}
	return &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
		"%s cannot move from %s to %s; allowed node types: %s",
		id, current, target, strings.Join(allowed, ", "))}
}

func (a *Action) planReplicas(ctx context.Context, args []string) (actions.Plan, error) {
	if len(args) != 1 {
		return actions.Plan{}, actions.Usagef("%s", replicasUsage)
	}
	arg := strings.TrimSpace(args[0])
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return actions.Plan{}, actions.Usagef("%q is not a whole number of replicas; %s",
			args[0], replicasUsage)
	}
	g, err := a.ready(ctx)
	if err != nil {
		return actions.Plan{}, err
	}
	lo, hi := replicaCounts(g)
	if strings.HasPrefix(arg, "+") || strings.HasPrefix(arg, "-") {
		n += int64(lo)
	}

	lim := a.cfg.Replicas
	switch {
	case n < lim.Min:
		return actions.Plan{}, actions.Usagef("%d replicas is below the lowest allowed, %d", n, lim.Min)
	case n > lim.Max:
		return actions.Plan{}, actions.Usagef("%d replicas is above the highest allowed, %d", n, lim.Max)
	case n == int64(lo) && n == int64(hi):
		return actions.Plan{}, actions.Usagef("%s already has %d replicas per node group",
			a.cfg.ReplicationGroupID, n)
	case n > int64(lo) && n < int64(hi):
		return actions.Plan{}, actions.Usagef(
			"the node groups of %s have %d–%d replicas; pick at least %d or at most %d",
			a.cfg.ReplicationGroupID, lo, hi, hi, lo)
	}
	return a.replicasPlan(lo, hi, int(n)), nil
}

func (a *Action) replicasPlan(lo, hi, n int) actions.Plan {
	op, warnings := opIncrease, []string(nil)
	if n <= lo {
		op = opDecrease
		warnings = append(warnings, "Fewer replicas means less read capacity and fewer failover targets.")
	}
	if n == 0 {
		warnings = append(warnings, "With no replicas there is no failover target; ElastiCache refuses "+
			"this while automatic failover or Multi-AZ is on.")
	}
	from := countRange(lo, hi)
	id := a.cfg.ReplicationGroupID
	return actions.Plan{
		Component: actions.Cache,
		Verb:      actions.VerbReplicas,
		Target:    id,
		Summary:   fmt.Sprintf("%s %s: %s → %d replicas per node group", title, id, from, n),
		Changes:   []actions.Change{{Field: paramReplicas, From: from, To: strconv.Itoa(n)}},
		Params:    map[string]string{paramReplicas: strconv.Itoa(n), paramOp: op},
		Warnings:  warnings,
	}
}

// Run calls the plan's operation, applied immediately, then follows the
// group until it is available again.
func (a *Action) Run(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	if p.Target != a.cfg.ReplicationGroupID {
		return actions.Result{}, &actions.Error{Kind: actions.KindInternal,
			Msg: fmt.Sprintf("the plan is for %q, not %s", p.Target, a.cfg.ReplicationGroupID)}
	}
	op, call, err := a.call(p)
	if err != nil {
		return actions.Result{}, err
	}
	if a.dryRun {
		return actions.Result{DryRun: true, Summary: "dry run: would call " + call}, nil
	}

	a.log.InfoContext(ctx, "elasticache change started", "op", op, "params", p.Params)
	if err := a.do(ctx, p, op); err != nil {
		return actions.Result{}, explain(err, op, a.cfg.ReplicationGroupID)
	}
	report(progress, op+" accepted; "+a.cfg.ReplicationGroupID+" is modifying")
	return a.Follow(ctx, p, progress)
}

// call returns the operation a plan runs and how it reads in words.
func (a *Action) call(p actions.Plan) (op, call string, err error) {
	id := a.cfg.ReplicationGroupID
	switch p.Verb {
	case actions.VerbScale:
		nt := p.Params[paramNodeType]
		if _, _, err := parseNodeType(nt); err != nil {
			return "", "", err
		}
		return opModify, fmt.Sprintf("%s(replication_group_id=%s, cache_node_type=%s, apply_immediately=true)",
			opModify, id, nt), nil
	case actions.VerbReplicas:
		op := p.Params[paramOp]
		_, err := strconv.Atoi(p.Params[paramReplicas])
		if err != nil || (op != opIncrease && op != opDecrease) {
			return "", "", &actions.Error{Kind: actions.KindInternal,
				Msg: "the replicas plan is incomplete"}
		}
		return op, fmt.Sprintf("%s(replication_group_id=%s, new_replica_count=%s, apply_immediately=true)",
			op, id, p.Params[paramReplicas]), nil
	}
	return "", "", &actions.Error{Kind: actions.KindInternal,
		Msg: fmt.Sprintf("cache cannot run %q", p.Verb)}
}

func (a *Action) do(ctx context.Context, p actions.Plan, op string) error {
	id, now := aws.String(a.cfg.ReplicationGroupID), aws.Bool(true)
	n, _ := strconv.Atoi(p.Params[paramReplicas])
	count := aws.Int32(int32(n))
	var err error
	switch op {
	case opModify:
		_, err = a.api.ModifyReplicationGroup(ctx, &ec.ModifyReplicationGroupInput{
			ReplicationGroupId: id, CacheNodeType: aws.String(p.Params[paramNodeType]),
			ApplyImmediately: now,
		})
	case opIncrease:
		_, err = a.api.IncreaseReplicaCount(ctx, &ec.IncreaseReplicaCountInput{
			ReplicationGroupId: id, NewReplicaCount: count, ApplyImmediately: now,
		})
	case opDecrease:
		_, err = a.api.DecreaseReplicaCount(ctx, &ec.DecreaseReplicaCountInput{
			ReplicationGroupId: id, NewReplicaCount: count, ApplyImmediately: now,
		})
	}
	return err
}

// Follow waits with the SDK's ReplicationGroupAvailable waiter until the
// group is available, reporting each change of state or node count. It
// only reads, so it works in dry-run mode too. A few failed reads in a row
// that are safe to retry do not stop it.
func (a *Action) Follow(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	id := a.cfg.ReplicationGroupID
	var last string
	var failures actions.FailedReads
	w := ec.NewReplicationGroupAvailableWaiter(a.api, func(o *ec.ReplicationGroupAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = a.cfg.PollInterval, a.cfg.MaxPollInterval
		next := o.Retryable
		o.Retryable = func(ctx context.Context, in *ec.DescribeReplicationGroupsInput,
			out *ec.DescribeReplicationGroupsOutput, err error) (bool, error) {
			if err != nil && ctx.Err() == nil {
				err = explain(err, "DescribeReplicationGroups", id)
				if failures.Tolerate(err) {
					a.log.WarnContext(ctx, "reading replication group failed, still waiting",
						"err", err, "failures", failures.Count())
					return true, nil
				}
				return false, err
			}
			failures.Reset()
			if err == nil && out != nil && len(out.ReplicationGroups) > 0 {
				if line := a.progressLine(ctx, p, out.ReplicationGroups[0]); line != last {
					last = line
					report(progress, line)
				}
			}
			return next(ctx, in, out, err)
		}
	})
	in := &ec.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)}
	out, err := w.WaitForOutput(ctx, in, a.cfg.WaitTimeout)
	if err != nil {
		return actions.Result{}, a.waitError(ctx, err, last)
	}
	if len(out.ReplicationGroups) == 0 {
		return actions.Result{}, &actions.Error{Kind: actions.KindNotFound,
			Msg: fmt.Sprintf("replication group %s does not exist", id)}
	}

	g := out.ReplicationGroups[0]
	a.log.InfoContext(ctx, "elasticache change finished", "status", aws.ToString(g.Status))
	nt, want := aws.ToString(g.CacheNodeType), p.Params[paramNodeType]
	if p.Verb == actions.VerbScale && nt != want {
		return actions.Result{}, &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
			"%s is %s again but still runs %s, not %s; ElastiCache did not apply the change",
			id, aws.ToString(g.Status), nt, want)}
	}
	clusters, _ := a.clusters(ctx)
	return actions.Result{Summary: resultSummary(p, g), Fields: fields(g, clusters)}, nil
}

// waitError explains why the waiter stopped without success. Stopping
// early is KindBusy, not KindUnavailable: running the step again would
// call the mutating operation again; Follow is the way on.
func (a *Action) waitError(ctx context.Context, err error, last string) error {
	id := a.cfg.ReplicationGroupID
	var ae *actions.Error
	switch {
	case errors.As(err, &ae):
		return err
	case ctx.Err() != nil:
		return actions.Errorf(actions.KindBusy, err,
			"stopped following %s before it was available; the change goes on in ElastiCache", id)
	case errors.Is(err, context.DeadlineExceeded),
		strings.Contains(err.Error(), "exceeded max wait time"):
		msg := fmt.Sprintf("%s was not available within %s; the change goes on in ElastiCache, "+
			"check it with status cache", id, a.cfg.WaitTimeout)
		if last != "" {
			msg += " (last seen " + last + ")"
		}
		a.log.WarnContext(ctx, "replication group not available in time",
			"wait_timeout", a.cfg.WaitTimeout, "last", last)
		return actions.Errorf(actions.KindBusy, err, "%s", msg)
	case strings.Contains(err.Error(), "Failure"):
		return actions.Errorf(actions.KindRefused, err, "%s was deleted while the change ran", id)
	}
	return explain(err, "DescribeReplicationGroups", id)
}

func resultSummary(p actions.Plan, g types.ReplicationGroup) string {
	id, state := aws.ToString(g.ReplicationGroupId), aws.ToString(g.Status)
	if p.Verb == actions.VerbScale {
		return fmt.Sprintf("%s now runs %s (%s)", id, aws.ToString(g.CacheNodeType), state)
	}
	lo, hi := replicaCounts(g)
	return fmt.Sprintf("%s now has %s replicas per node group (%s)", id, countRange(lo, hi), state)
}

// progressLine says where a change is: the state and, while it runs, how
// many nodes are on the new type or how many members are available.
func (a *Action) progressLine(ctx context.Context, p actions.Plan, g types.ReplicationGroup) string {
	state := aws.ToString(g.Status)
	if state == available {
		return state
	}
	clusters, err := a.clusters(ctx)
	if err != nil || len(clusters) == 0 {
		return state
	}
	if nt := p.Params[paramNodeType]; p.Verb == actions.VerbScale && nt != "" {
		on := 0
		for _, c := range clusters {
			if aws.ToString(c.CacheNodeType) == nt {
				on++
			}
		}
		return fmt.Sprintf("%s: %d/%d nodes on %s", state, on, len(clusters), nt)
	}
	ok := len(clusters) - len(busyMembers(clusters))
	return fmt.Sprintf("%s: %d/%d member clusters available", state, ok, len(clusters))
}

func report(progress actions.Progress, line string) {
	if progress != nil {
		progress(line)
	}
}

// group reads the configured replication group.
func (a *Action) group(ctx context.Context) (types.ReplicationGroup, error) {
	id := a.cfg.ReplicationGroupID
	out, err := a.api.DescribeReplicationGroups(ctx, &ec.DescribeReplicationGroupsInput{
		ReplicationGroupId: aws.String(id),
	})
	if err != nil {
		return types.ReplicationGroup{}, explain(err, "DescribeReplicationGroups", id)
	}
	if len(out.ReplicationGroups) == 0 {
		return types.ReplicationGroup{}, &actions.Error{Kind: actions.KindNotFound,
			Msg: fmt.Sprintf("replication group %s does not exist", id)}
	}
	return out.ReplicationGroups[0], nil
}

// clusters reads the group's member clusters.
func (a *Action) clusters(ctx context.Context) ([]types.CacheCluster, error) {
	id := a.cfg.ReplicationGroupID
	var out []types.CacheCluster
	in := &ec.DescribeCacheClustersInput{MaxRecords: aws.Int32(100)}
	pages := ec.NewDescribeCacheClustersPaginator(a.api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, explain(err, "DescribeCacheClusters", id)
		}
		for _, c := range page.CacheClusters {
			if aws.ToString(c.ReplicationGroupId) == id {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// ready reads the group and returns a KindBusy error when it, or one of
// its member clusters, is not available.
func (a *Action) ready(ctx context.Context) (types.ReplicationGroup, error) {
	g, err := a.group(ctx)
	if err != nil {
		return g, err
	}
	id := a.cfg.ReplicationGroupID
	if s := aws.ToString(g.Status); s != available {
		return g, &actions.Error{Kind: actions.KindBusy, Msg: fmt.Sprintf(
			"%s is %s, not available; wait until it is available, then try again", id, s)}
	}
	clusters, err := a.clusters(ctx)
	if err != nil {
		return g, err
	}
	if busy := busyMembers(clusters); len(busy) > 0 {
		return g, &actions.Error{Kind: actions.KindBusy, Msg: fmt.Sprintf(
			"%s has member clusters that are not available (%s); wait until they are, then try again",
			id, strings.Join(busy, ", "))}
	}
	return g, nil
}

func busyMembers(clusters []types.CacheCluster) []string {
	var busy []string
	for _, c := range clusters {
		if s := aws.ToString(c.CacheClusterStatus); s != available {
			busy = append(busy, aws.ToString(c.CacheClusterId)+" "+s)
		}
	}
	return busy
}

// replicaCounts returns the fewest and most replicas in any node group.
func replicaCounts(g types.ReplicationGroup) (lo, hi int) {
	if len(g.NodeGroups) == 0 {
		n := max(len(g.MemberClusters)-1, 0)
		return n, n
	}
	lo = -1
	for _, ng := range g.NodeGroups {
		n := max(len(ng.NodeGroupMembers)-1, 0)
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return lo, hi
}

func countRange(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

// sizes are the node sizes in order, smallest first. The step after
// 16xlarge varies by family, so "next" stops there.
var sizes = []string{
	"micro", "small", "medium", "large",
	"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
}

var nodeTypeRE = regexp.MustCompile(`^cache\.([a-z]+[0-9]+[a-z0-9-]*)\.([a-z0-9]+)$`)

// parseNodeType splits cache.<family>.<size>.
func parseNodeType(s string) (family, size string, err error) {
	m := nodeTypeRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", actions.Usagef(
			"%q is not a node type; write cache.<family>.<size>, e.g. cache.r7g.2xlarge", s)
	}
	return m[1], m[2], nil
}

// nextSize returns the next size up in current's family. With checked
// set it returns the smallest larger size in allowed instead.
func nextSize(current string, allowed []string, checked bool) (string, error) {
	family, size, err := parseNodeType(current)
	if err != nil {
		return "", err
	}
	i := slices.Index(sizes, size)
	if i < 0 {
		return "", actions.Usagef("cannot tell the next size up from %s; name the node type", current)
	}
	for _, s := range sizes[i+1:] {
		t := "cache." + family + "." + s
		if !checked || slices.Contains(allowed, t) {
			return t, nil
		}
	}
	return "", &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
		"there is no larger %s size to move %s to; name the node type", family, current)}
}

// smaller reports whether a is a smaller size than b in the same family.
func smaller(a, b string) bool {
	fa, sa, err1 := parseNodeType(a)
	fb, sb, err2 := parseNodeType(b)
	if err1 != nil || err2 != nil || fa != fb {
		return false
	}
	return slices.Index(sizes, sa) >= 0 && slices.Index(sizes, sa) < slices.Index(sizes, sb)
}
