// Package cost answers /cato cost: AWS Compute Optimizer's right-sizing
// recommendations for EC2 instances and the runbook's notes on Savings
// Plans and Spot. It only reads; the bot never buys a Savings Plan.
package cost

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/computeoptimizer"
	"github.com/aws/aws-sdk-go-v2/service/computeoptimizer/types"
)

// API is the part of the Compute Optimizer client the report uses.
type API interface {
	GetEC2InstanceRecommendations(
		ctx context.Context,
		in *computeoptimizer.GetEC2InstanceRecommendationsInput,
		optFns ...func(*computeoptimizer.Options),
	) (*computeoptimizer.GetEC2InstanceRecommendationsOutput, error)
}

var _ API = (*computeoptimizer.Client)(nil)

// The runbook's notes, shown with every report.
const (
	// SavingsPlansNote is the runbook's Savings Plans advice and how a
	// person buys one; the bot never does.
	SavingsPlansNote = "Savings Plans: at 10M users SageMaker runs about $275K a month; a " +
		"3-year plan saves about 64% (~$100K a month) for a 3-year commitment. The bot never buys " +
		"one. To buy after review, check the recommendation in the AWS Billing and Cost " +
		"Management console (Savings Plans → Recommendations); someone with billing rights then " +
		"purchases it there (Savings Plans → Purchase Savings Plans) or with `aws savingsplans " +
		"create-savings-plan --savings-plan-offering-id <offering-id> --commitment <USD per hour>`. " +
		"The commitment is per hour, not per month, and SageMaker usage is covered by a SageMaker " +
		"Savings Plan, not a Compute one."
	// SpotNote is the runbook's Spot advice for the night-mode batch.
	SpotNote = "Spot for the night-mode curiosity batch: about 70% off its compute. An " +
		"interruption only delays the batch, which the runbook accepts; keep the serving paths " +
		"(Shadow Self, Ray Serve) on On-Demand."
	// OptInNote explains an account that is not opted in to Compute
	// Optimizer.
	OptInNote = "This AWS account is not opted in to Compute Optimizer, so there are no " +
		"right-sizing recommendations. Someone with administrator rights can opt in from the " +
		"Compute Optimizer console or with `aws compute-optimizer update-enrollment-status " +
		"--status Active`; the first recommendations can take a day or more to appear."
)

// Options tune a Reporter.
type Options struct {
	// DryRun is accepted for symmetry with the actions; the report only
	// reads, so it changes nothing.
	DryRun bool
	Logger *slog.Logger
}

// Reporter builds cost reports. It is safe for concurrent use.
type Reporter struct {
	cfg    Config
	client API
	log    *slog.Logger
}

// Rec is one EC2 instance's right-sizing recommendation.
type Rec struct {
	// Instance is the instance's Name tag, else its ID.
	Instance    string
	InstanceID  string
	InstanceARN string
	Account     string
	CurrentType string
	// RecommendedType is the top-ranked option, "" when there is none.
	RecommendedType string
	Finding         string
	// MonthlySavings, in Currency, is the estimated saving of the
	// recommended type, after Savings Plans and Reserved Instances when
	// Compute Optimizer gives that (AfterDiscounts); HasSavings says
	// whether it gave any.
	MonthlySavings float64
	Currency       string
	SavingsPercent float64
	HasSavings     bool
	AfterDiscounts bool
}

// Text writes r in one line: "cato-ray-worker-1 (i-0…): m7g.4xlarge →
// m7g.2xlarge, overprovisioned, saves about $201.50 a month".
func (r Rec) Text() string {
	s := r.Instance
	if r.InstanceID != "" && r.InstanceID != r.Instance {
		s += " (" + r.InstanceID + ")"
	}
	s += ": " + r.CurrentType
	if r.RecommendedType != "" && r.RecommendedType != r.CurrentType {
		s += " → " + r.RecommendedType
	}
	s += ", " + strings.ToLower(r.Finding)
	if r.HasSavings && r.MonthlySavings > 0 {
		s += ", saves about " + money(r.MonthlySavings, r.Currency) + " a month"
		if r.AfterDiscounts {
			s += " after discounts"
		}
	}
	return s
}

// Report is what /cato cost shows.
type Report struct {
	// Recommendations are the instances to resize: overprovisioned ones
	// first, largest saving first, then underprovisioned ones.
	Recommendations []Rec
	// More counts recommendations left out beyond max_shown.
	More int
	// Optimized counts instances Compute Optimizer finds right-sized.
	Optimized int
	// TotalMonthlySavings sums the savings of all recommendations, shown
	// or not, in Currency.
	TotalMonthlySavings float64
	Currency            string
	// OptInRequired says the account is not opted in to Compute Optimizer.
	OptInRequired bool
	// Notes are lines to show after the recommendations: what Compute
	// Optimizer could not report, then the runbook's notes.
	Notes []string
}

// New returns a reporter for cfg through client. It returns cfg's
// validation errors.
func New(cfg Config, client API, opts Options) (*Reporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cost config: %w", err)
	}
	if client == nil {
		return nil, fmt.Errorf("cost: no Compute Optimizer client")
	}
	cfg.Findings = slices.Clone(cfg.Findings)
	for i, f := range cfg.Findings {
		cfg.Findings[i], _ = canonical(f)
	}
	r := &Reporter{cfg: cfg, client: client, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Report reads the recommendations for the configured findings, up to
// max_pages calls, and adds the runbook's notes. An account not opted in
// to Compute Optimizer gives a report that says how to opt in, not an
// error; other failures are *actions.Error in plain words.
func (r *Reporter) Report(ctx context.Context) (Report, error) {
	var rep Report
	var recs []types.InstanceRecommendation
	var token *string
	pages := 0
	for {
		out, err := r.client.GetEC2InstanceRecommendations(ctx,
			&computeoptimizer.GetEC2InstanceRecommendationsInput{
				Filters:    []types.Filter{{Name: types.FilterNameFinding, Values: r.cfg.Findings}},
				MaxResults: aws.Int32(r.cfg.PageSize),
				NextToken:  token,
			})
		if optIn(err) {
			r.log.Debug("compute optimizer not opted in")
			rep.OptInRequired = true
			rep.Notes = []string{OptInNote, SavingsPlansNote, SpotNote}
			return rep, nil
		}
		if err != nil {
			return Report{}, apiError(err)
		}
		recs = append(recs, out.InstanceRecommendations...)
		for _, e := range out.Errors {
			rep.Notes = append(rep.Notes, fmt.Sprintf("Compute Optimizer could not report on %s: %s",
				cmp.Or(aws.ToString(e.Identifier), "an instance"),
				plain(cmp.Or(aws.ToString(e.Message), aws.ToString(e.Code)))))
		}
		pages++
		token = out.NextToken
		if aws.ToString(token) == "" {
			break
		}
		if pages >= r.cfg.MaxPages {
			rep.Notes = append(rep.Notes, fmt.Sprintf("Only the first %d recommendations were read; "+
				"raise cost.max_pages to read more.", len(recs)))
			break
		}
	}

	var list []Rec
	for _, ir := range recs {
		if ir.Finding == types.FindingOptimized {
			rep.Optimized++
			continue
		}
		rec := toRec(ir)
		list = append(list, rec)
		if rec.HasSavings && rec.MonthlySavings > 0 {
			rep.Currency = cmp.Or(rep.Currency, rec.Currency)
			if rec.Currency == rep.Currency {
				rep.TotalMonthlySavings += rec.MonthlySavings
			}
		}
	}
	slices.SortStableFunc(list, func(a, b Rec) int {
		if c := cmp.Compare(findingRank(a.Finding), findingRank(b.Finding)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.MonthlySavings, a.MonthlySavings); c != 0 {
			return c
		}
		return cmp.Compare(a.Instance, b.Instance)
	})
	if len(list) > r.cfg.MaxShown {
		rep.More = len(list) - r.cfg.MaxShown
		list = list[:r.cfg.MaxShown]
	}
	rep.Recommendations = list
	rep.Notes = append(rep.Notes, r.summary(rep)...)
	rep.Notes = append(rep.Notes, SavingsPlansNote, SpotNote)
	r.log.Debug("cost report read", "recommendations", len(list), "more", rep.More,
		"optimized", rep.Optimized, "pages", pages)
	return rep, nil
}

// summary writes the lines that sum up the recommendations.
func (r *Reporter) summary(rep Report) []string {
	var lines []string
	if len(rep.Recommendations) == 0 {
		lines = append(lines, fmt.Sprintf("Compute Optimizer has no EC2 instance to resize (findings "+
			"asked for: %s).", strings.Join(r.cfg.Findings, ", ")))
	}
	if rep.More > 0 {
		lines = append(lines, fmt.Sprintf("%d more not shown (cost.max_shown is %d).", rep.More,
			r.cfg.MaxShown))
	}
	if rep.TotalMonthlySavings > 0 {
		lines = append(lines, fmt.Sprintf("Resizing every instance listed would save about %s a month.",
			money(rep.TotalMonthlySavings, rep.Currency)))
	}
	if slices.Contains(r.cfg.Findings, Optimized) {
		if rep.Optimized == 1 {
			lines = append(lines, "1 instance is already optimized.")
		} else {
			lines = append(lines, fmt.Sprintf("%d instances are already optimized.", rep.Optimized))
		}
	}
	return lines
}

func findingRank(f string) int {
	switch f {
	case Overprovisioned:
		return 0
	case Underprovisioned:
		return 1
	}
	return 2
}

// toRec picks the top-ranked option of ir and its saving.
func toRec(ir types.InstanceRecommendation) Rec {
	arn := aws.ToString(ir.InstanceArn)
	id := arn
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		id = arn[i+1:]
	}
	rec := Rec{
		Instance:    cmp.Or(aws.ToString(ir.InstanceName), id),
		InstanceID:  id,
		InstanceARN: arn,
		Account:     aws.ToString(ir.AccountId),
		CurrentType: aws.ToString(ir.CurrentInstanceType),
		Finding:     string(ir.Finding),
	}
	var best *types.InstanceRecommendationOption
	for i := range ir.RecommendationOptions {
		o := &ir.RecommendationOptions[i]
		if best == nil || o.Rank < best.Rank {
			best = o
		}
	}
	if best == nil {
		return rec
	}
	rec.RecommendedType = aws.ToString(best.InstanceType)
	switch {
	case best.SavingsOpportunityAfterDiscounts != nil &&
		best.SavingsOpportunityAfterDiscounts.EstimatedMonthlySavings != nil:
		s := best.SavingsOpportunityAfterDiscounts
		rec.MonthlySavings = s.EstimatedMonthlySavings.Value
		rec.Currency = string(s.EstimatedMonthlySavings.Currency)
		rec.SavingsPercent = s.SavingsOpportunityPercentage
		rec.HasSavings, rec.AfterDiscounts = true, true
	case best.SavingsOpportunity != nil && best.SavingsOpportunity.EstimatedMonthlySavings != nil:
		s := best.SavingsOpportunity
		rec.MonthlySavings = s.EstimatedMonthlySavings.Value
		rec.Currency = string(s.EstimatedMonthlySavings.Currency)
		rec.SavingsPercent = s.SavingsOpportunityPercentage
		rec.HasSavings = true
	}
	return rec
}

// money writes an amount: "$201.50", or "201.50 CNY".
func money(v float64, currency string) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if currency == "" || currency == string(types.CurrencyUsd) {
		return "$" + s
	}
	return s + " " + currency
}
