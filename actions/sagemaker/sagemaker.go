// Package sagemaker reads and scales one SageMaker endpoint variant, such as
// the runbook's Shadow Self (cato-shadow-self/primary) or NLI model
// (cato-nli/primary). It changes the variant's instance count with
// UpdateEndpointWeightsAndCapacities and follows the update to InService
// with the SDK's waiter, reporting progress as instances come into service.
package sagemaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/thinktank/catobot/actions"
)

// Client is the part of the SageMaker API the action calls; *sm.Client
// satisfies it.
type Client interface {
	DescribeEndpoint(
		ctx context.Context,
		in *sm.DescribeEndpointInput,
		optFns ...func(*sm.Options),
	) (*sm.DescribeEndpointOutput, error)
	UpdateEndpointWeightsAndCapacities(
		ctx context.Context,
		in *sm.UpdateEndpointWeightsAndCapacitiesInput,
		optFns ...func(*sm.Options),
	) (*sm.UpdateEndpointWeightsAndCapacitiesOutput, error)
}

var _ Client = (*sm.Client)(nil)

// Options are the action's process settings: DryRun and Logger.
type Options = actions.Options

// Action scales one endpoint variant. It implements actions.Action and
// actions.Follower.
type Action struct {
	cfg    Config
	client Client
	opts   Options
	log    *slog.Logger
}

var (
	_ actions.Action   = (*Action)(nil)
	_ actions.Follower = (*Action)(nil)
)

// Plan parameters, set by Plan and read by Run and Follow.
const (
	ParamEndpoint = "endpoint"
	ParamVariant  = "variant"
	ParamDesired  = "desired"
)

// fieldInstances is the Change field for the instance count.
const fieldInstances = "instances"

// New returns the action for cfg, calling SageMaker through client. It
// returns an error when cfg is not valid.
func New(cfg Config, client Client, opts Options) (*Action, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sagemaker %s config: %w", cfg.Component, err)
	}
	if client == nil {
		return nil, fmt.Errorf("sagemaker %s: no client", cfg.Component)
	}
	log := opts.Log("component", cfg.Component, "endpoint", cfg.Endpoint, "variant", cfg.Variant)
	return &Action{cfg: cfg, client: client, opts: opts, log: log}, nil
}

// Config returns the action's configuration.
func (a *Action) Config() Config { return a.cfg }

// Status reads the endpoint and its variant.
func (a *Action) Status(ctx context.Context) (actions.Status, error) {
	ep, v, err := a.describe(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	return actions.Status{
		Component: a.cfg.Component,
		Title:     a.cfg.Title,
		Target:    a.cfg.target(),
		State:     string(ep.EndpointStatus),
		Fields:    fields(ep, v),
	}, nil
}

// Plan works out a scale or rollback from the live instance count. A
// rollback's Args[0], when given, is the count recorded before the bot's
// last change; without it the configured rollback_to is used.
func (a *Action) Plan(ctx context.Context, req actions.Request) (actions.Plan, error) {
	if req.Verb != actions.VerbScale && req.Verb != actions.VerbRollback {
		return actions.Plan{}, actions.Usagef(
			"%s can be scaled or rolled back, not %q: use scale %s N or rollback %s",
			a.cfg.Component, req.Verb, a.cfg.Component, a.cfg.Component)
	}
	if len(req.Args) > 1 {
		return actions.Plan{}, actions.Usagef("too many words after %s %s: %s", req.Verb, a.cfg.Component,
			strings.Join(req.Args, " "))
	}
	if req.Verb == actions.VerbScale && len(req.Args) == 0 {
		return actions.Plan{}, actions.Usagef("say how many instances: scale %s N, or +N / -N to change by N",
			a.cfg.Component)
	}
	if req.Verb == actions.VerbRollback && len(req.Args) == 0 && a.cfg.RollbackTo == 0 {
		return actions.Plan{}, actions.Usagef("no earlier change of %s is recorded and no rollback_to value "+
			"is configured, so there is nothing to roll back to; use scale %s N to set the count",
			a.cfg.Component, a.cfg.Component)
	}

	ep, v, err := a.describe(ctx)
	if err != nil {
		return actions.Plan{}, err
	}
	if err := a.ready(ep); err != nil {
		return actions.Plan{}, err
	}

	current := int64(aws.ToInt32(v.CurrentInstanceCount))
	var warnings []string
	arg := ""
	if len(req.Args) == 1 {
		arg = req.Args[0]
	} else if req.Verb == actions.VerbRollback {
		arg = strconv.FormatInt(a.cfg.RollbackTo, 10)
		warnings = append(warnings, fmt.Sprintf("no earlier change recorded; using the runbook's value %d",
			a.cfg.RollbackTo))
	}
	desired, err := actions.ParseCount(arg, current, a.cfg.Limits.Min, a.cfg.Limits.Max, "instances")
	if err != nil {
		return actions.Plan{}, err
	}
	if desired == current {
		return actions.Plan{}, actions.Usagef("%s already has %d instances", a.cfg.target(), current)
	}

	return actions.Plan{
		Component: a.cfg.Component,
		Verb:      req.Verb,
		Target:    a.cfg.target(),
		Summary:   fmt.Sprintf("%s: %d → %d instances", a.cfg.Title, current, desired),
		Changes: []actions.Change{{
			Field: fieldInstances,
			From:  strconv.FormatInt(current, 10),
			To:    strconv.FormatInt(desired, 10),
		}},
		Params: map[string]string{
			ParamEndpoint: a.cfg.Endpoint,
			ParamVariant:  a.cfg.Variant,
			ParamDesired:  strconv.FormatInt(desired, 10),
		},
		Warnings: warnings,
	}, nil
}

// Run sets the variant's desired instance count and follows the update
// until the endpoint is InService again.
func (a *Action) Run(ctx context.Context, p actions.Plan, progress actions.Progress) (actions.Result, error) {
	desired, err := a.planned(p)
	if err != nil {
		return actions.Result{}, err
	}
	if a.opts.DryRun {
		return actions.Result{
			Summary: fmt.Sprintf("dry run: would call UpdateEndpointWeightsAndCapacities(endpoint=%s, "+
				"variant=%s, desired_instance_count=%d)", a.cfg.Endpoint, a.cfg.Variant, desired),
			DryRun: true,
		}, nil
	}

	a.log.DebugContext(ctx, "updating endpoint capacity", "desired", desired)
	_, err = a.client.UpdateEndpointWeightsAndCapacities(ctx, &sm.UpdateEndpointWeightsAndCapacitiesInput{
		EndpointName: aws.String(a.cfg.Endpoint),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{
			VariantName:          aws.String(a.cfg.Variant),
			DesiredInstanceCount: aws.Int32(desired),
		}},
	})
	if err != nil {
		return actions.Result{}, a.apiError("UpdateEndpointWeightsAndCapacities", err)
	}

	return a.follow(ctx, desired, progress)
}

// Follow waits for an update of the variant to desired, started earlier,
// to finish, with the same progress lines and result as Run. It only reads,
// so it works in dry-run mode too.
func (a *Action) Follow(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	desired, err := a.planned(p)
	if err != nil {
		return actions.Result{}, err
	}
	return a.follow(ctx, desired, progress)
}

// planned returns the desired count p asks of this action's variant.
func (a *Action) planned(p actions.Plan) (int32, error) {
	if p.Params[ParamEndpoint] != a.cfg.Endpoint || p.Params[ParamVariant] != a.cfg.Variant {
		return 0, &actions.Error{Kind: actions.KindInternal, Msg: fmt.Sprintf("this step is for %s/%s, not %s",
			p.Params[ParamEndpoint], p.Params[ParamVariant], a.cfg.target())}
	}
	n, err := strconv.ParseInt(p.Params[ParamDesired], 10, 32)
	if err != nil || n < 0 {
		return 0, actions.Errorf(actions.KindInternal, err, "this step has no valid instance count (%q)",
			p.Params[ParamDesired])
	}
	return int32(n), nil
}

// follow waits with the SDK's EndpointInService waiter. Progress comes from
// the waiter's Retryable hook, which sees every DescribeEndpoint answer the
// waiter gets: the lines cost no extra API calls, keep the waiter's own
// backoff and timeout, and cannot disagree with what the waiter decided.
// The waiter's LogWaitAttempts option logs only attempt numbers, not the
// endpoint's state, so it cannot give these lines.
func (a *Action) follow(
	ctx context.Context,
	desired int32,
	progress actions.Progress,
) (actions.Result, error) {
	if progress == nil {
		progress = func(string) {}
	}
	var last string
	var failures actions.FailedReads
	retryable := func(ctx context.Context, _ *sm.DescribeEndpointInput, out *sm.DescribeEndpointOutput,
		err error) (bool, error) {
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return false, err
			}
			// An update takes minutes; a throttled or failed read in
			// between (after the client's own retries) is no reason to
			// stop following it, unless it keeps happening.
			err = a.apiError("DescribeEndpoint", err)
			if !failures.Tolerate(err) {
				return false, err
			}
			a.log.WarnContext(ctx, "reading endpoint failed, still waiting",
				"err", err, "failures", failures.Count())
			return true, nil
		}
		failures.Reset()
		v, verr := a.variant(out)
		if verr != nil {
			return false, verr
		}
		switch out.EndpointStatus {
		case types.EndpointStatusInService:
			return false, nil
		case types.EndpointStatusFailed, types.EndpointStatusOutOfService,
			types.EndpointStatusUpdateRollbackFailed:
			return false, a.notReady(out)
		}
		line := fmt.Sprintf("%s: %d/%d instances in service",
			out.EndpointStatus, aws.ToInt32(v.CurrentInstanceCount), desired)
		if line != last {
			last = line
			progress(line)
		}
		return true, nil
	}

	w := sm.NewEndpointInServiceWaiter(a.client, func(o *sm.EndpointInServiceWaiterOptions) {
		o.MinDelay = a.cfg.PollInterval
		o.MaxDelay = a.cfg.MaxPollInterval
		o.Retryable = retryable
	})
	out, err := w.WaitForOutput(ctx, &sm.DescribeEndpointInput{EndpointName: aws.String(a.cfg.Endpoint)},
		a.cfg.WaitTimeout)
	if err != nil {
		return actions.Result{}, a.waitError(ctx, err, last)
	}

	v, err := a.variant(out)
	if err != nil {
		return actions.Result{}, err
	}
	current := aws.ToInt32(v.CurrentInstanceCount)
	if current != desired {
		msg := fmt.Sprintf("%s is %s again with %d instances, not %d", a.cfg.target(), out.EndpointStatus,
			current, desired)
		if r := aws.ToString(out.FailureReason); r != "" {
			msg += ": SageMaker says " + r
		}
		return actions.Result{}, &actions.Error{Kind: actions.KindRefused, Msg: msg}
	}
	return actions.Result{
		Summary: fmt.Sprintf("%s now has %d instances (%s)", a.cfg.target(), current, out.EndpointStatus),
		Fields:  fields(out, v),
	}, nil
}

// waitError explains why the waiter stopped without success.
func (a *Action) waitError(ctx context.Context, err error, last string) error {
	var ae *actions.Error
	if errors.As(err, &ae) {
		return err
	}
	if ctx.Err() != nil {
		// Not KindUnavailable: running the step again would call
		// UpdateEndpointWeightsAndCapacities again; Follow is the way on.
		return actions.Errorf(actions.KindBusy, err, "stopped following %s before it finished; the "+
			"update goes on in SageMaker", a.cfg.target())
	}
	msg := fmt.Sprintf("%s did not reach InService within %s; the update goes on in SageMaker, check it "+
		"with status %s", a.cfg.target(), a.cfg.WaitTimeout, a.cfg.Component)
	if last != "" {
		msg += " (last seen " + last + ")"
	}
	a.log.WarnContext(ctx, "endpoint not in service in time", "wait_timeout", a.cfg.WaitTimeout, "last", last)
	return actions.Errorf(actions.KindBusy, err, "%s", msg)
}

// describe reads the endpoint and this action's variant of it.
func (a *Action) describe(
	ctx context.Context,
) (*sm.DescribeEndpointOutput, types.ProductionVariantSummary, error) {
	in := &sm.DescribeEndpointInput{EndpointName: aws.String(a.cfg.Endpoint)}
	out, err := a.client.DescribeEndpoint(ctx, in)
	if err != nil {
		return nil, types.ProductionVariantSummary{}, a.apiError("DescribeEndpoint", err)
	}
	v, err := a.variant(out)
	return out, v, err
}

// variant finds this action's variant in out.
func (a *Action) variant(out *sm.DescribeEndpointOutput) (types.ProductionVariantSummary, error) {
	var names []string
	for _, v := range out.ProductionVariants {
		if aws.ToString(v.VariantName) == a.cfg.Variant {
			return v, nil
		}
		names = append(names, aws.ToString(v.VariantName))
	}
	has := "no variants"
	if len(names) > 0 {
		has = "variants " + strings.Join(names, ", ")
	}
	return types.ProductionVariantSummary{}, &actions.Error{Kind: actions.KindNotFound, Msg: fmt.Sprintf(
		"SageMaker endpoint %s has no variant %q (it has %s)", a.cfg.Endpoint, a.cfg.Variant, has)}
}

// ready returns nil when ep can be scaled now, or says why not.
func (a *Action) ready(ep *sm.DescribeEndpointOutput) error {
	if ep.EndpointStatus == types.EndpointStatusInService {
		return nil
	}
	return a.notReady(ep)
}

// notReady explains an endpoint that is not InService. A change in
// progress is KindBusy; a broken endpoint, which no waiting mends, is
// KindRefused with SageMaker's reason.
func (a *Action) notReady(ep *sm.DescribeEndpointOutput) error {
	switch ep.EndpointStatus {
	case types.EndpointStatusFailed, types.EndpointStatusOutOfService,
		types.EndpointStatusUpdateRollbackFailed:
		msg := fmt.Sprintf("%s is %s and cannot be scaled until it is repaired",
			a.cfg.Endpoint, ep.EndpointStatus)
		if r := aws.ToString(ep.FailureReason); r != "" {
			msg += ": SageMaker says " + r
		}
		return &actions.Error{Kind: actions.KindRefused, Msg: msg}
	}
	return &actions.Error{Kind: actions.KindBusy, Msg: fmt.Sprintf("%s is %s; wait for it to finish",
		a.cfg.Endpoint, ep.EndpointStatus)}
}

// fields are the status and result fields for ep's variant v.
func fields(ep *sm.DescribeEndpointOutput, v types.ProductionVariantSummary) []actions.Field {
	fs := []actions.Field{
		{Name: "instances", Value: strconv.Itoa(int(aws.ToInt32(v.CurrentInstanceCount)))},
		{Name: "desired instances", Value: strconv.Itoa(int(aws.ToInt32(v.DesiredInstanceCount)))},
	}
	for _, p := range v.InstancePools {
		if p.InstanceType != "" {
			fs = append(fs, actions.Field{Name: "instance type", Value: string(p.InstanceType)})
			break
		}
	}
	if ep.LastModifiedTime != nil {
		fs = append(fs, actions.Field{
			Name:  "last modified",
			Value: ep.LastModifiedTime.UTC().Format(time.RFC3339),
		})
	}
	if r := aws.ToString(ep.FailureReason); r != "" {
		fs = append(fs, actions.Field{Name: "failure reason", Value: r})
	}
	return fs
}
