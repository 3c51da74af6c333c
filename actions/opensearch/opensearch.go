// Package opensearch raises or lowers the capacity OpenSearch Serverless
// may scale to.
//
// This differs from the runbook on purpose. The runbook's step,
// `aws opensearchserverless update-collection --description "Increased
// capacity"`, changes only a collection's description and adds no capacity.
// OpenSearch Serverless scales its compute (OCUs) by itself, and what bounds
// that scaling is the account's capacity limits: the maximum indexing and
// the maximum search capacity, in OCUs, shared by the account's collections
// in the region. So `scale opensearch indexing=N search=N` reads those limits
// with GetAccountSettings and sets them with UpdateAccountSettings; each is
// at least 2 OCUs. The change takes effect at once, so there is nothing to
// follow. See
// https://docs.aws.amazon.com/opensearch-service/latest/developerguide/serverless-scaling.html.
package opensearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	oss "github.com/aws/aws-sdk-go-v2/service/opensearchserverless"
	"github.com/aws/aws-sdk-go-v2/service/opensearchserverless/types"
	"github.com/aws/smithy-go"

	"github.com/thinktank/catobot/actions"
)

// API is the part of the OpenSearch Serverless client the action calls.
type API interface {
	GetAccountSettings(ctx context.Context, in *oss.GetAccountSettingsInput,
		optFns ...func(*oss.Options)) (*oss.GetAccountSettingsOutput, error)
	UpdateAccountSettings(ctx context.Context, in *oss.UpdateAccountSettingsInput,
		optFns ...func(*oss.Options)) (*oss.UpdateAccountSettingsOutput, error)
	oss.ListCollectionsAPIClient
}

var _ API = (*oss.Client)(nil)

// Options are the action's process settings: DryRun and Logger.
type Options = actions.Options

// Action reads and sets the account's OpenSearch Serverless capacity
// limits. It implements actions.Action; the change is immediate, so it is
// no actions.Follower.
type Action struct {
	cfg    Config
	api    API
	dryRun bool
	log    *slog.Logger
}

var _ actions.Action = (*Action)(nil)

// New returns the opensearch action, calling OpenSearch Serverless through
// api. It returns an error when cfg is not valid.
func New(cfg Config, api API, opts Options) (*Action, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("opensearch config: %w", err)
	}
	if api == nil {
		return nil, errors.New("opensearch: no client")
	}
	log := opts.Log("component", actions.OpenSearch)
	return &Action{cfg: cfg, api: api, dryRun: opts.DryRun, log: log}, nil
}

// Config returns the action's configuration.
func (a *Action) Config() Config { return a.cfg }

const (
	title         = "OpenSearch Serverless"
	target        = "account capacity limits"
	paramIndexing = "indexing"
	paramSearch   = "search"
	usage         = "usage: scale opensearch indexing=N search=N (either or both, maximum OCUs)"
)

// limits holds the two capacity limits; zero means unset.
type limits map[string]int64

func fromAPI(cl *types.CapacityLimits) limits {
	l := limits{}
	if cl != nil {
		l[paramIndexing] = int64(aws.ToInt32(cl.MaxIndexingCapacityInOCU))
		l[paramSearch] = int64(aws.ToInt32(cl.MaxSearchCapacityInOCU))
	}
	return l
}

func (l limits) show(key string) string {
	if l[key] == 0 {
		return "unset"
	}
	return strconv.FormatInt(l[key], 10)
}

// Status reads the account's capacity limits and, when configured, lists
// the collections that share them.
func (a *Action) Status(ctx context.Context) (actions.Status, error) {
	cur, err := a.limits(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	fs := []actions.Field{
		{Name: "max indexing capacity (OCU)", Value: cur.show(paramIndexing)},
		{Name: "max search capacity (OCU)", Value: cur.show(paramSearch)},
	}
	if a.cfg.ListCollections {
		cols, err := a.collections(ctx)
		if err != nil {
			return actions.Status{}, err
		}
		fs = append(fs, actions.Field{Name: "collections", Value: cols})
	}
	return actions.Status{
		Component: actions.OpenSearch, Title: title, Target: target, State: "auto-scaling", Fields: fs,
	}, nil
}

func (a *Action) collections(ctx context.Context) (string, error) {
	var names []string
	pages := oss.NewListCollectionsPaginator(a.api, &oss.ListCollectionsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", explain(err, "ListCollections")
		}
		for _, c := range page.CollectionSummaries {
			names = append(names, fmt.Sprintf("%s (%s)", aws.ToString(c.Name), c.Status))
		}
	}
	if len(names) == 0 {
		return "none", nil
	}
	return strings.Join(names, ", "), nil
}

// Plan works out `scale opensearch indexing=N search=N`.
func (a *Action) Plan(ctx context.Context, req actions.Request) (actions.Plan, error) {
	if req.Verb != actions.VerbScale {
		return actions.Plan{}, actions.Usagef("opensearch does not support %q; %s", req.Verb, usage)
	}
	want, err := a.parse(req.Args)
	if err != nil {
		return actions.Plan{}, err
	}
	cur, err := a.limits(ctx)
	if err != nil {
		return actions.Plan{}, err
	}

	params := map[string]string{}
	var changes []actions.Change
	var words, warnings []string
	for _, key := range []string{paramIndexing, paramSearch} {
		n, ok := want[key]
		if ok && n != cur[key] {
			changes = append(changes, actions.Change{
				Field: "max_" + key + "_ocu", From: cur.show(key), To: strconv.FormatInt(n, 10),
			})
			words = append(words, fmt.Sprintf("max %s %s → %d", key, cur.show(key), n))
			warnings = append(warnings, a.warnings(key, cur[key], n)...)
		} else {
			n = cur[key]
		}
		if n != 0 {
			params[key] = strconv.FormatInt(n, 10)
		}
	}
	if len(changes) == 0 {
		return actions.Plan{}, actions.Usagef("the account already allows indexing=%s search=%s OCUs",
			cur.show(paramIndexing), cur.show(paramSearch))
	}
	return actions.Plan{
		Component: actions.OpenSearch,
		Verb:      actions.VerbScale,
		Target:    target,
		Summary:   fmt.Sprintf("%s: %s OCUs", title, strings.Join(words, ", ")),
		Changes:   changes,
		Params:    params,
		Warnings:  warnings,
	}, nil
}

func (a *Action) warnings(key string, from, to int64) []string {
	var out []string
	lim := map[string]actions.Limits{paramIndexing: a.cfg.Indexing, paramSearch: a.cfg.Search}[key]
	if beyond := lim.Beyond(from, to); beyond != "" {
		out = append(out, fmt.Sprintf("max %s capacity %s.", key, beyond))
	}
	if to < from {
		out = append(out, fmt.Sprintf("Lowering the maximum %s capacity caps how far collections can scale; "+
			"%s may slow down under load.", key, key))
	}
	return out
}

// parse reads indexing=N and search=N.
func (a *Action) parse(args []string) (map[string]int64, error) {
	limits := map[string]actions.Limits{paramIndexing: a.cfg.Indexing, paramSearch: a.cfg.Search}
	return actions.ParseNamed(args, limits, "OCUs", usage)
}

// Run sets the plan's capacity limits with UpdateAccountSettings.
func (a *Action) Run(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	if p.Verb != actions.VerbScale || p.Target != target {
		return actions.Result{}, &actions.Error{Kind: actions.KindInternal,
			Msg: fmt.Sprintf("the plan is for %s %q, not opensearch capacity limits", p.Verb, p.Target)}
	}
	cl := &types.CapacityLimits{}
	var words []string
	for _, key := range []string{paramIndexing, paramSearch} {
		s, ok := p.Params[key]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return actions.Result{}, actions.Errorf(actions.KindInternal, err,
				"the opensearch plan is incomplete")
		}
		if key == paramIndexing {
			cl.MaxIndexingCapacityInOCU = aws.Int32(int32(n))
			words = append(words, "max_indexing_capacity_in_ocu="+s)
		} else {
			cl.MaxSearchCapacityInOCU = aws.Int32(int32(n))
			words = append(words, "max_search_capacity_in_ocu="+s)
		}
	}
	if a.dryRun {
		return actions.Result{DryRun: true,
			Summary: "dry run: would call UpdateAccountSettings(" + strings.Join(words, ", ") + ")"}, nil
	}

	a.log.InfoContext(ctx, "opensearch limits update started", "params", p.Params)
	out, err := a.api.UpdateAccountSettings(ctx, &oss.UpdateAccountSettingsInput{CapacityLimits: cl})
	if err != nil {
		return actions.Result{}, explain(err, "UpdateAccountSettings")
	}
	var got limits
	if out.AccountSettingsDetail != nil {
		got = fromAPI(out.AccountSettingsDetail.CapacityLimits)
	}
	if progress != nil {
		progress("UpdateAccountSettings accepted")
	}
	return actions.Result{
		Summary: fmt.Sprintf("%s now scales up to %s indexing and %s search OCUs",
			title, got.show(paramIndexing), got.show(paramSearch)),
		Fields: []actions.Field{
			{Name: "max indexing capacity (OCU)", Value: got.show(paramIndexing)},
			{Name: "max search capacity (OCU)", Value: got.show(paramSearch)},
		},
	}, nil
}

func (a *Action) limits(ctx context.Context) (limits, error) {
	out, err := a.api.GetAccountSettings(ctx, &oss.GetAccountSettingsInput{})
	if err != nil {
		return nil, explain(err, "GetAccountSettings")
	}
	if out.AccountSettingsDetail == nil {
		return limits{}, nil
	}
	return fromAPI(out.AccountSettingsDetail.CapacityLimits), nil
}

// explain turns an OpenSearch Serverless API error from op into an
// *actions.Error whose message a person can act on.
func explain(err error, op string) error {
	return actions.AWSError(err, actions.AWSCall{
		Service: title, Prefix: "opensearchserverless", Op: op, Codes: codeError,
	})
}

// codeError maps OpenSearch Serverless's own error codes, or returns nil
// for a code left to actions.AWSError.
func codeError(api smithy.APIError, wrapped error) error {
	reason := api.ErrorMessage()
	switch api.ErrorCode() {
	case "ValidationException":
		return actions.Errorf(actions.KindUsage, wrapped,
			"OpenSearch Serverless refused the limits: %s", reason)
	case "ServiceQuotaExceededException":
		return actions.Errorf(actions.KindRefused, wrapped,
			"the new limits exceed the account's OpenSearch Serverless quota (%s); "+
				"ask AWS for a quota increase first", reason)
	case "ConflictException":
		return actions.Errorf(actions.KindBusy, wrapped,
			"the account settings are being changed already (%s); try again in a minute", reason)
	case "InternalServerException":
		return actions.Errorf(actions.KindUnavailable, wrapped,
			"OpenSearch Serverless failed inside (%s); try again later", reason)
	}
	return nil
}
