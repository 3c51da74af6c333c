// Package computeoptimizerfake is an AWS Compute Optimizer API on the wire,
// for tests and the sandbox. It speaks the protocol aws-sdk-go-v2's
// service/computeoptimizer (v1.51.2) uses: Smithy RPC v2 CBOR, POST
// /service/ComputeOptimizerService/operation/<Op> with CBOR bodies and a
// "smithy-protocol: rpc-v2-cbor" header, which the SDK requires on every
// answer. It answers GetEC2InstanceRecommendations, with the Finding
// filter and paging, from recommendations set with SetRecommendations.
//
// Use a Fake as an http.Handler, e.g. httptest.NewServer(f), and give its
// URL to the SDK as BaseEndpoint.
package computeoptimizerfake

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	smithycbor "github.com/aws/smithy-go/encoding/cbor"

	"github.com/thinktank/catobot/fakes/awsfake"
)

// Service is the Smithy service name in request paths.
const Service = "ComputeOptimizerService"

// OpGetEC2InstanceRecommendations is the operation the fake answers.
const OpGetEC2InstanceRecommendations = "GetEC2InstanceRecommendations"

// Findings of an EC2 instance recommendation, as Compute Optimizer spells
// them.
const (
	Underprovisioned = "Underprovisioned"
	Overprovisioned  = "Overprovisioned"
	Optimized        = "Optimized"
)

// Account and Region appear in the ARNs Cato returns.
const (
	Account = "111122223333"
	Region  = "us-east-1"
)

// Savings is an estimated monthly saving.
type Savings struct {
	Currency string // "USD" when empty
	Value    float64
	Percent  float64
}

// Option is one recommended instance type.
type Option struct {
	InstanceType string
	Rank         int32
	Savings      *Savings
	// AfterDiscounts is the saving once Savings Plans and Reserved
	// Instances are counted.
	AfterDiscounts *Savings
}

// Recommendation is one instance's recommendation.
type Recommendation struct {
	InstanceARN  string
	InstanceName string
	AccountID    string
	CurrentType  string
	Finding      string
	Options      []Option
}

// RecommendationError is an error Compute Optimizer reports inside a
// successful answer, for one account or resource.
type RecommendationError struct {
	Identifier, Code, Message string
}

// Failure is an error the fake answers instead of doing an operation.
type Failure = awsfake.Failure

// Request is one GetEC2InstanceRecommendations request as the fake
// decoded it.
type Request struct {
	Filters    map[string][]string
	MaxResults int32
	NextToken  string
}

// Fake is a Compute Optimizer endpoint. Use it as an http.Handler. It is
// safe for concurrent use.
type Fake struct {
	// Recorder holds every call received; Body is the raw CBOR.
	Recorder *awsfake.Recorder
	// Faults gives the fake Fail and ClearFailures.
	awsfake.Faults

	mu       sync.Mutex
	optedIn  bool
	recs     []Recommendation
	errs     []RecommendationError
	requests []Request
}

// New returns a fake for an account opted in to Compute Optimizer,
// holding recs.
func New(recs ...Recommendation) *Fake {
	return &Fake{
		Recorder: &awsfake.Recorder{},
		optedIn:  true,
		recs:     slices.Clone(recs),
	}
}

// Cato returns recommendations for a small Cato fleet: an overprovisioned
// Ray Serve node, an underprovisioned night-mode batch node and an
// optimized one.
func Cato() []Recommendation {
	arn := func(id string) string {
		return "arn:aws:ec2:" + Region + ":" + Account + ":instance/" + id
	}
	return []Recommendation{
		{
			InstanceARN: arn("i-0ray0000000000001"), InstanceName: "cato-ray-worker-1",
			AccountID: Account, CurrentType: "m7g.4xlarge", Finding: Overprovisioned,
			Options: []Option{
				{InstanceType: "m7g.2xlarge", Rank: 1,
					Savings:        &Savings{Value: 238.18, Percent: 50},
					AfterDiscounts: &Savings{Value: 201.5, Percent: 42.3}},
				{InstanceType: "m7g.xlarge", Rank: 2, Savings: &Savings{Value: 357.27, Percent: 75}},
			},
		},
		{
			InstanceARN: arn("i-0night00000000002"), InstanceName: "cato-night-curiosity",
			AccountID: Account, CurrentType: "c7g.large", Finding: Underprovisioned,
			Options: []Option{{InstanceType: "c7g.xlarge", Rank: 1}},
		},
		{
			InstanceARN: arn("i-0ok000000000000003"), AccountID: Account,
			CurrentType: "r7g.large", Finding: Optimized,
			Options: []Option{{InstanceType: "r7g.large", Rank: 1, Savings: &Savings{}}},
		},
	}
}

// SetRecommendations replaces the recommendations.
func (f *Fake) SetRecommendations(recs ...Recommendation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = slices.Clone(recs)
}

// SetErrors sets the errors reported inside every successful answer.
func (f *Fake) SetErrors(errs ...RecommendationError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = slices.Clone(errs)
}

// SetOptedIn sets whether the account is opted in; when it is not, every
// call answers OptInRequiredException.
func (f *Fake) SetOptedIn(in bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.optedIn = in
}

// Requests returns the requests received so far, decoded.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// ServeHTTP answers one RPC v2 CBOR request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, err := awsfake.ReadCBOR(r, Service)
	f.Recorder.Record(awsfake.Call{Service: awsfake.SigningService(r), Op: op, Body: body})
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.Take(op); ok {
		awsfake.WriteCBORError(w, fl.Status, fl.Code, fl.QueryCode, fl.Message)
		return
	}
	switch op {
	case OpGetEC2InstanceRecommendations:
		f.recommendations(w, body)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("the fake does not implement %s", op))
	}
}

func invalid(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, "com.amazonaws.computeoptimizer#InvalidParameterValueException",
		fmt.Sprintf(format, args...))
}

func (f *Fake) recommendations(w http.ResponseWriter, body []byte) {
	req, err := decodeRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	f.requests = append(f.requests, req)
	if !f.optedIn {
		writeError(w, http.StatusForbidden, "com.amazonaws.computeoptimizer#OptInRequiredException",
			"The account is not opted in to AWS Compute Optimizer.")
		return
	}

	findings := req.Filters["Finding"]
	for name := range req.Filters {
		if name != "Finding" && name != "RecommendationSourceType" && name != "FindingReasonCodes" &&
			name != "InferredWorkloadTypes" && !strings.HasPrefix(name, "tag") {
			invalid(w, "Invalid filter name %s", name)
			return
		}
	}
	for _, v := range findings {
		if !slices.Contains([]string{Underprovisioned, Overprovisioned, Optimized}, v) {
			invalid(w, "Invalid value %s for filter Finding; valid values are Underprovisioned, "+
				"Overprovisioned, Optimized", v)
			return
		}
	}
	var matched []Recommendation
	for _, r := range f.recs {
		if len(findings) == 0 || slices.Contains(findings, r.Finding) {
			matched = append(matched, r)
		}
	}

	start := 0
	if req.NextToken != "" {
		n, err := strconv.Atoi(req.NextToken)
		if err != nil || n < 0 || n > len(matched) {
			invalid(w, "Invalid nextToken")
			return
		}
		start = n
	}
	end := len(matched)
	if req.MaxResults > 0 {
		end = min(end, start+int(req.MaxResults))
	}
	out := smithycbor.Map{}
	list := smithycbor.List{}
	for _, r := range matched[start:end] {
		list = append(list, encodeRecommendation(r))
	}
	out["instanceRecommendations"] = list
	if end < len(matched) {
		out["nextToken"] = smithycbor.String(strconv.Itoa(end))
	}
	errs := smithycbor.List{}
	for _, e := range f.errs {
		errs = append(errs, smithycbor.Map{
			"identifier": smithycbor.String(e.Identifier),
			"code":       smithycbor.String(e.Code),
			"message":    smithycbor.String(e.Message),
		})
	}
	out["errors"] = errs
	awsfake.WriteCBOR(w, http.StatusOK, out)
}

func encodeRecommendation(r Recommendation) smithycbor.Map {
	m := smithycbor.Map{
		"instanceArn":         smithycbor.String(r.InstanceARN),
		"accountId":           smithycbor.String(r.AccountID),
		"currentInstanceType": smithycbor.String(r.CurrentType),
		"finding":             smithycbor.String(r.Finding),
	}
	if r.InstanceName != "" {
		m["instanceName"] = smithycbor.String(r.InstanceName)
	}
	opts := smithycbor.List{}
	for _, o := range r.Options {
		om := smithycbor.Map{
			"instanceType":    smithycbor.String(o.InstanceType),
			"rank":            smithycbor.Uint(max(o.Rank, 0)),
			"performanceRisk": smithycbor.Float64(0),
		}
		if o.Savings != nil {
			om["savingsOpportunity"] = encodeSavings(*o.Savings)
		}
		if o.AfterDiscounts != nil {
			om["savingsOpportunityAfterDiscounts"] = encodeSavings(*o.AfterDiscounts)
		}
		opts = append(opts, om)
	}
	m["recommendationOptions"] = opts
	return m
}

func encodeSavings(s Savings) smithycbor.Map {
	return smithycbor.Map{
		"savingsOpportunityPercentage": smithycbor.Float64(s.Percent),
		"estimatedMonthlySavings": smithycbor.Map{
			"currency": smithycbor.String(cmp.Or(s.Currency, "USD")),
			"value":    smithycbor.Float64(s.Value),
		},
	}
}

// decodeRequest decodes a GetEC2InstanceRecommendationsInput.
func decodeRequest(body []byte) (Request, error) {
	req := Request{Filters: map[string][]string{}}
	if len(body) == 0 {
		return req, nil
	}
	m, err := awsfake.DecodeCBORMap(body)
	if err != nil {
		return req, err
	}
	if mr, ok := m["maxResults"]; ok {
		if req.MaxResults, err = smithycbor.AsInt32(mr); err != nil {
			return req, fmt.Errorf("decode maxResults: %w", err)
		}
	}
	req.NextToken = str(m["nextToken"])
	filters, _ := m["filters"].(smithycbor.List)
	for _, item := range filters {
		fm, _ := item.(smithycbor.Map)
		name := str(fm["name"])
		values, _ := fm["values"].(smithycbor.List)
		for _, v := range values {
			req.Filters[name] = append(req.Filters[name], str(v))
		}
	}
	return req, nil
}

// writeError answers with an RPC v2 CBOR error.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	awsfake.WriteCBORError(w, status, code, "", msg)
}

// str returns a CBOR string's text, or "" for any other value.
var str = awsfake.CBORString
