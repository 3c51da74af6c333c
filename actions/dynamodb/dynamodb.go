// Package dynamodb carries out the runbook's DynamoDB step: set a table's
// provisioned read and write capacity (UpdateTable) and follow it with the
// SDK's TableExists waiter until the table is ACTIVE again. A table in
// on-demand mode scales by itself and is left alone; a table that is
// already updating is reported, not retried; DynamoDB's limit on daily
// decreases is explained with when the next decrease is allowed.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/thinktank/catobot/actions"
)

// API is the part of the DynamoDB client the action calls.
type API interface {
	ddb.DescribeTableAPIClient
	UpdateTable(
		ctx context.Context,
		in *ddb.UpdateTableInput,
		optFns ...func(*ddb.Options),
	) (*ddb.UpdateTableOutput, error)
}

var _ API = (*ddb.Client)(nil)

// Options are the action's process settings: DryRun and Logger.
type Options = actions.Options

// Action reads and changes one table's provisioned throughput. It
// implements actions.Action and actions.Follower.
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

// New returns the dynamo action for cfg's table, calling DynamoDB through
// api. It returns an error when cfg is not valid.
func New(cfg Config, api API, opts Options) (*Action, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dynamodb config: %w", err)
	}
	if api == nil {
		return nil, errors.New("dynamodb: no client")
	}
	return &Action{
		cfg:    cfg,
		api:    api,
		dryRun: opts.DryRun,
		log:    opts.Log("component", actions.Dynamo, "table", cfg.TableName),
	}, nil
}

// Config returns the action's configuration.
func (a *Action) Config() Config { return a.cfg }

const (
	title             = "DynamoDB"
	active            = string(types.TableStatusActive)
	paramRead         = "read"
	paramWrite        = "write"
	paramDecreases    = "decreases_today"
	paramLastDecrease = "last_decrease"
	usage             = "usage: scale dynamo read=N write=N (either or both, in capacity units)"
)

// Status reads the table: state, billing mode, provisioned capacity and
// its decreases today.
func (a *Action) Status(ctx context.Context) (actions.Status, error) {
	t, err := a.table(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	return actions.Status{
		Component: actions.Dynamo,
		Title:     title,
		Target:    a.cfg.TableName,
		State:     string(t.TableStatus),
		Fields:    fields(t),
	}, nil
}

func fields(t types.TableDescription) []actions.Field {
	if onDemand(t) {
		return []actions.Field{{Name: "billing mode",
			Value: "on-demand (PAY_PER_REQUEST), scales automatically"}}
	}
	pt := throughput(t)
	last := "never"
	if pt.LastDecreaseDateTime != nil {
		last = pt.LastDecreaseDateTime.UTC().Format("2006-01-02 15:04 MST")
	}
	itoa := func(n *int64) string { return strconv.FormatInt(aws.ToInt64(n), 10) }
	return []actions.Field{
		{Name: "billing mode", Value: "provisioned (PROVISIONED)"},
		{Name: "read capacity units", Value: itoa(pt.ReadCapacityUnits)},
		{Name: "write capacity units", Value: itoa(pt.WriteCapacityUnits)},
		{Name: "decreases today", Value: itoa(pt.NumberOfDecreasesToday)},
		{Name: "last decrease", Value: last},
	}
}

func onDemand(t types.TableDescription) bool {
	s := t.BillingModeSummary
	return s != nil && s.BillingMode == types.BillingModePayPerRequest
}

func throughput(t types.TableDescription) types.ProvisionedThroughputDescription {
	if t.ProvisionedThroughput == nil {
		return types.ProvisionedThroughputDescription{}
	}
	return *t.ProvisionedThroughput
}

// Plan works out `scale dynamo read=N write=N`.
func (a *Action) Plan(ctx context.Context, req actions.Request) (actions.Plan, error) {
	if req.Verb != actions.VerbScale {
		return actions.Plan{}, actions.Usagef("dynamo does not support %q; %s", req.Verb, usage)
	}
	want, err := a.parse(req.Args)
	if err != nil {
		return actions.Plan{}, err
	}
	t, err := a.table(ctx)
	if err != nil {
		return actions.Plan{}, err
	}

	name := a.cfg.TableName
	if onDemand(t) {
		return actions.Plan{}, &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
			"%s uses on-demand capacity, which scales automatically; there is no provisioned "+
				"throughput to set, so it is left alone", name)}
	}
	if t.TableStatus != types.TableStatusActive {
		return actions.Plan{}, &actions.Error{Kind: actions.KindBusy, Msg: fmt.Sprintf(
			"%s is %s; wait until it is ACTIVE, then try again", name, t.TableStatus)}
	}
	pt := throughput(t)
	cur := map[string]int64{
		paramRead:  aws.ToInt64(pt.ReadCapacityUnits),
		paramWrite: aws.ToInt64(pt.WriteCapacityUnits),
	}
	return a.plan(cur, want, pt)
}

// parse reads read=N and write=N.
func (a *Action) parse(args []string) (map[string]int64, error) {
	limits := map[string]actions.Limits{paramRead: a.cfg.Read, paramWrite: a.cfg.Write}
	return actions.ParseNamed(args, limits, "capacity units", usage)
}

func (a *Action) plan(
	cur, want map[string]int64,
	pt types.ProvisionedThroughputDescription,
) (actions.Plan, error) {
	name := a.cfg.TableName
	next := map[string]int64{paramRead: cur[paramRead], paramWrite: cur[paramWrite]}
	var changes []actions.Change
	var words, warnings []string
	decrease := false
	for _, key := range []string{paramRead, paramWrite} {
		n, ok := want[key]
		if !ok || n == cur[key] {
			continue
		}
		next[key] = n
		decrease = decrease || n < cur[key]
		changes = append(changes, actions.Change{Field: key + "_capacity_units",
			From: strconv.FormatInt(cur[key], 10), To: strconv.FormatInt(n, 10)})
		words = append(words, fmt.Sprintf("%s %d → %d", key, cur[key], n))
		lim := map[string]actions.Limits{paramRead: a.cfg.Read, paramWrite: a.cfg.Write}[key]
		if beyond := lim.Beyond(cur[key], n); beyond != "" {
			warnings = append(warnings, fmt.Sprintf("%s capacity %s.", key, beyond))
		}
	}
	if len(changes) == 0 {
		return actions.Plan{}, actions.Usagef("%s already has read=%d write=%d",
			name, cur[paramRead], cur[paramWrite])
	}

	params := map[string]string{
		paramRead:      strconv.FormatInt(next[paramRead], 10),
		paramWrite:     strconv.FormatInt(next[paramWrite], 10),
		paramDecreases: strconv.FormatInt(aws.ToInt64(pt.NumberOfDecreasesToday), 10),
	}
	if pt.LastDecreaseDateTime != nil {
		params[paramLastDecrease] = pt.LastDecreaseDateTime.UTC().Format(time.RFC3339)
	}
	if decrease {
		warnings = append(warnings, decreaseWarning(params))
	}
	return actions.Plan{
		Component: actions.Dynamo,
		Verb:      actions.VerbScale,
		Target:    name,
		Summary:   fmt.Sprintf("%s %s: %s capacity units", title, name, strings.Join(words, ", ")),
		Changes:   changes,
		Params:    params,
		Warnings:  warnings,
	}, nil
}

func decreaseWarning(p map[string]string) string {
	msg := fmt.Sprintf("DynamoDB allows %d decreases per table in a UTC day, then one an hour; "+
		"this table has had %s today.", FreeDecreases, p[paramDecreases])
	if next, ok := nextDecrease(p); ok {
		msg += " The next decrease is allowed at " + next.Format("2006-01-02 15:04 MST") + "."
	}
	return msg
}

// Run calls UpdateTable with the plan's throughput, then follows the
// table until it is ACTIVE again.
func (a *Action) Run(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	name := a.cfg.TableName
	if p.Target != name || p.Verb != actions.VerbScale {
		return actions.Result{}, &actions.Error{Kind: actions.KindInternal,
			Msg: fmt.Sprintf("the plan is for %s %q, not scale %s", p.Verb, p.Target, name)}
	}
	read, err1 := strconv.ParseInt(p.Params[paramRead], 10, 64)
	write, err2 := strconv.ParseInt(p.Params[paramWrite], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return actions.Result{}, actions.Errorf(actions.KindInternal, err,
			"the dynamo plan is incomplete")
	}
	if a.dryRun {
		return actions.Result{DryRun: true, Summary: fmt.Sprintf(
			"dry run: would call UpdateTable(table_name=%s, read_capacity_units=%d, "+
				"write_capacity_units=%d)", name, read, write)}, nil
	}

	a.log.InfoContext(ctx, "dynamodb update started", "read", read, "write", write)
	_, err := a.api.UpdateTable(ctx, &ddb.UpdateTableInput{
		TableName: aws.String(name),
		ProvisionedThroughput: &types.ProvisionedThroughput{
			ReadCapacityUnits: aws.Int64(read), WriteCapacityUnits: aws.Int64(write),
		},
	})
	if err != nil {
		return actions.Result{}, explain(err, "UpdateTable", name, p.Params)
	}
	report(progress, "UpdateTable accepted; "+name+" is UPDATING")
	return a.Follow(ctx, p, progress)
}

// Follow waits with the SDK's TableExists waiter until the table is
// ACTIVE, reporting each change of state or capacity. It only reads, so it
// works in dry-run mode too. A few failed reads in a row that are safe to
// retry do not stop it.
func (a *Action) Follow(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	name := a.cfg.TableName
	var last string
	var failures actions.FailedReads
	w := ddb.NewTableExistsWaiter(a.api, func(o *ddb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = a.cfg.PollInterval, a.cfg.MaxPollInterval
		next := o.Retryable
		o.Retryable = func(ctx context.Context, in *ddb.DescribeTableInput,
			out *ddb.DescribeTableOutput, err error) (bool, error) {
			if err != nil && ctx.Err() == nil {
				err = explain(err, "DescribeTable", name, nil)
				if failures.Tolerate(err) {
					a.log.WarnContext(ctx, "reading table failed, still waiting",
						"err", err, "failures", failures.Count())
					return true, nil
				}
				return false, err
			}
			failures.Reset()
			if err == nil && out != nil && out.Table != nil {
				pt := throughput(*out.Table)
				line := fmt.Sprintf("%s: read %d, write %d", out.Table.TableStatus,
					aws.ToInt64(pt.ReadCapacityUnits), aws.ToInt64(pt.WriteCapacityUnits))
				if line != last {
					last = line
					report(progress, line)
				}
			}
			return next(ctx, in, out, err)
		}
	})
	in := &ddb.DescribeTableInput{TableName: aws.String(name)}
	out, err := w.WaitForOutput(ctx, in, a.cfg.WaitTimeout)
	if err != nil {
		return actions.Result{}, a.waitError(ctx, err, last)
	}

	t := *out.Table
	pt := throughput(t)
	read, write := aws.ToInt64(pt.ReadCapacityUnits), aws.ToInt64(pt.WriteCapacityUnits)
	a.log.InfoContext(ctx, "dynamodb update finished", "status", string(t.TableStatus))
	gotRead, gotWrite := strconv.FormatInt(read, 10), strconv.FormatInt(write, 10)
	if p.Params[paramRead] != gotRead || p.Params[paramWrite] != gotWrite {
		return actions.Result{}, &actions.Error{Kind: actions.KindRefused, Msg: fmt.Sprintf(
			"%s is %s again with read=%d write=%d, not the planned read=%s write=%s",
			name, t.TableStatus, read, write, p.Params[paramRead], p.Params[paramWrite])}
	}
	return actions.Result{
		Summary: fmt.Sprintf("%s now has read=%d write=%d (%s)", name, read, write, t.TableStatus),
		Fields:  fields(t),
	}, nil
}

// waitError explains why the waiter stopped without success. Stopping
// early is KindBusy, not KindUnavailable: running the step again would
// call UpdateTable again; Follow is the way on.
func (a *Action) waitError(ctx context.Context, err error, last string) error {
	name := a.cfg.TableName
	var ae *actions.Error
	switch {
	case errors.As(err, &ae):
		return err
	case ctx.Err() != nil:
		return actions.Errorf(actions.KindBusy, err,
			"stopped following %s before it was ACTIVE; the update goes on in DynamoDB", name)
	case errors.Is(err, context.DeadlineExceeded),
		strings.Contains(err.Error(), "exceeded max wait time"):
		msg := fmt.Sprintf("%s was not ACTIVE within %s; the update goes on in DynamoDB, "+
			"check it with status dynamo", name, a.cfg.WaitTimeout)
		if last != "" {
			msg += " (last seen " + last + ")"
		}
		a.log.WarnContext(ctx, "table not active in time",
			"wait_timeout", a.cfg.WaitTimeout, "last", last)
		return actions.Errorf(actions.KindBusy, err, "%s", msg)
	}
	return explain(err, "DescribeTable", name, nil)
}

func report(progress actions.Progress, line string) {
	if progress != nil {
		progress(line)
	}
}

func (a *Action) table(ctx context.Context) (types.TableDescription, error) {
	name := a.cfg.TableName
	out, err := a.api.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return types.TableDescription{}, explain(err, "DescribeTable", name, nil)
	}
	if out.Table == nil {
		return types.TableDescription{}, &actions.Error{Kind: actions.KindNotFound,
			Msg: fmt.Sprintf("table %s does not exist", name)}
	}
	return *out.Table, nil
}
