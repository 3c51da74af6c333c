// Package sagemakerfake is a SageMaker API on loopback that speaks the real
// awsJson1_1 wire protocol (X-Amz-Target "SageMaker.<Op>") for
// DescribeEndpoint and UpdateEndpointWeightsAndCapacities, so that the real
// AWS SDK can be pointed at it through BaseEndpoint or
// AWS_ENDPOINT_URL_SAGEMAKER.
//
// An update sets the endpoint Updating and moves each changed variant's
// current instance count towards its desired count, one step per
// DescribeEndpoint call, until the endpoint is InService again.
package sagemakerfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/thinktank/catobot/fakes/awsfake"
)

// Operation names the fake answers.
const (
	OpDescribeEndpoint                   = "DescribeEndpoint"
	OpUpdateEndpointWeightsAndCapacities = "UpdateEndpointWeightsAndCapacities"
)

// Endpoint statuses, as SageMaker spells them.
const (
	StatusInService = "InService"
	StatusUpdating  = "Updating"
	StatusCreating  = "Creating"
	StatusFailed    = "Failed"
)

// Account and Region appear in the ARNs the fake returns.
const (
	Account = "111122223333"
	Region  = "us-east-1"
)

// DefaultSteps is how many DescribeEndpoint calls an update takes to finish
// unless SetSteps says otherwise.
const DefaultSteps = 3

const contentType = "application/x-amz-json-1.1"

// Endpoint is one endpoint's state.
type Endpoint struct {
	Name          string
	Status        string
	FailureReason string
	LastModified  time.Time
	Variants      []Variant
}

// Variant is one production variant's state.
type Variant struct {
	Name    string
	Current int32
	Desired int32
	// InstanceType, when set, is reported in the variant's InstancePools.
	InstanceType string
}

// Variant returns the named variant and reports whether it exists.
func (e Endpoint) Variant(name string) (Variant, bool) {
	for _, v := range e.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// Fault is an error the fake answers with instead of doing an operation.
type Fault struct {
	Status  int    // HTTP status, 400 when zero
	Code    string // e.g. "ThrottlingException"
	Message string
	// Times is how many calls in a row fail; 1 when zero.
	Times int
}

// update is an update in progress on one endpoint.
type update struct {
	from    map[string]int32 // variant → count when the update started
	step    int
	failure string // when set, the update rolls back with this reason
}

// Server is the fake SageMaker API. It is safe for concurrent use.
type Server struct {
	srv *httptest.Server
	rec awsfake.Recorder

	mu        sync.Mutex
	endpoints map[string]*Endpoint
	updates   map[string]*update
	failNext  map[string]string // endpoint → reason for its next update
	steps     int
	manual    bool
	faults    map[string][]Fault
}

// New starts a fake SageMaker API on loopback. Close it when done.
func New() *Server {
	s := &Server{
		endpoints: map[string]*Endpoint{},
		updates:   map[string]*update{},
		failNext:  map[string]string{},
		steps:     DefaultSteps,
		faults:    map[string][]Fault{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL returns the base URL to give the SDK as BaseEndpoint.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Calls returns the calls received so far, in order.
func (s *Server) Calls() []awsfake.Call { return s.rec.Calls() }

// Ops returns the operation names of the calls received so far, in order.
func (s *Server) Ops() []string {
	var ops []string
	for _, c := range s.rec.Calls() {
		ops = append(ops, c.Op)
	}
	return ops
}

// Count returns how many calls of op were received.
func (s *Server) Count(op string) int { return s.rec.Count(op) }

// SetSteps sets how many DescribeEndpoint calls an update takes to finish.
// With n ≤ 0 DescribeEndpoint no longer moves updates: they move only when
// Advance or Finish is called, still in the last number of steps set
// (DefaultSteps at first).
func (s *Server) SetSteps(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manual = n <= 0
	if n > 0 {
		s.steps = n
	}
}

// SetEndpoint creates or replaces the named variant of an endpoint with
// instances running, and puts the endpoint InService. Other variants of the
// endpoint are kept; an update in progress is dropped.
func (s *Server) SetEndpoint(name, variant string, instances int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[name]
	if !ok {
		e = &Endpoint{Name: name}
		s.endpoints[name] = e
	}
	e.Status = StatusInService
	e.FailureReason = ""
	e.LastModified = time.Now().UTC()
	delete(s.updates, name)
	v := Variant{Name: variant, Current: instances, Desired: instances}
	for i := range e.Variants {
		if e.Variants[i].Name == variant {
			v.InstanceType = e.Variants[i].InstanceType
			e.Variants[i] = v
			return
		}
	}
	e.Variants = append(e.Variants, v)
}

// PutEndpoint stores e as given, status included, replacing any endpoint
// of the same name and dropping an update in progress on it. An endpoint
// put with status Updating moves towards its desired counts as if an
// update had been started.
func (s *Server) PutEndpoint(e Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Variants = slices.Clone(e.Variants)
	if e.LastModified.IsZero() {
		e.LastModified = time.Now().UTC()
	}
	s.endpoints[e.Name] = &e
	delete(s.updates, e.Name)
	if e.Status == StatusUpdating {
		s.updates[e.Name] = s.newUpdate(&e)
	}
}

// Endpoint returns a copy of the named endpoint's state and reports whether
// it exists.
func (s *Server) Endpoint(name string) (Endpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[name]
	if !ok {
		return Endpoint{}, false
	}
	c := *e
	c.Variants = slices.Clone(e.Variants)
	return c, true
}

// Instances returns the current instance count of the named endpoint's
// variant, or of its first variant when variant is "", and reports whether
// they exist. It suits scenario checks that name only the endpoint.
func (s *Server) Instances(name, variant string) (int32, bool) {
	e, ok := s.Endpoint(name)
	if !ok || len(e.Variants) == 0 {
		return 0, false
	}
	if variant == "" {
		return e.Variants[0].Current, true
	}
	v, ok := e.Variant(variant)
	return v.Current, ok
}

// Endpoints returns the names of all endpoints, sorted.
func (s *Server) Endpoints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.endpoints))
}

// StartUpdate starts an update as if someone else had called
// UpdateEndpointWeightsAndCapacities. It fails the way the API does.
func (s *Server) StartUpdate(name, variant string, desired int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, code, msg := s.startUpdate(name, map[string]int32{variant: desired})
	if code != "" {
		return fmt.Errorf("start update of %s: %s: %s", name, code, msg)
	}
	return nil
}

// FailNextUpdate makes the next update of the named endpoint roll back:
// it ends InService at the instance counts it started from, with reason
// as the endpoint's FailureReason.
func (s *Server) FailNextUpdate(name, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[name] = reason
}

// Advance moves the named endpoint's update one step on, as a
// DescribeEndpoint call does when steps are counted.
func (s *Server) Advance(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(name)
}

// Finish completes the named endpoint's update at once.
func (s *Server) Finish(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.updates[name]; ok {
		u.step = s.steps - 1
		s.advance(name)
	}
}

// Fail makes the next f.Times calls of op answer with f instead.
func (s *Server) Fail(op string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 {
		f.Status = http.StatusBadRequest
	}
	for range max(f.Times, 1) {
		s.faults[op] = append(s.faults[op], f)
	}
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	op, body, err := awsfake.ReadJSON(req)
	if err != nil {
		awsfake.WriteJSONError(w, contentType, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.rec.Record(awsfake.Call{Service: awsfake.SigningService(req), Op: op, Body: body})

	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.takeFault(op); ok {
		awsfake.WriteJSONError(w, contentType, f.Status, f.Code, f.Message)
		return
	}
	switch op {
	case OpDescribeEndpoint:
		s.describe(w, body)
	case OpUpdateEndpointWeightsAndCapacities:
		s.update(w, body)
	default:
		awsfake.WriteJSONError(w, contentType, http.StatusBadRequest, "UnknownOperationException",
			"the fake SageMaker does not implement "+op)
	}
}

func (s *Server) takeFault(op string) (Fault, bool) {
	q := s.faults[op]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[op] = q[1:]
	return q[0], true
}

type describeInput struct {
	EndpointName string
}

type variantSummary struct {
	VariantName          string
	CurrentInstanceCount int32
	DesiredInstanceCount int32
	CurrentWeight        float32
	DesiredWeight        float32
	InstancePools        []instancePool `json:",omitempty"`
}

type instancePool struct {
	InstanceType         string
	CurrentInstanceCount int32
}

type describeOutput struct {
	EndpointName       string
	EndpointArn        string
	EndpointConfigName string
	EndpointStatus     string
	FailureReason      string `json:",omitempty"`
	CreationTime       float64
	LastModifiedTime   float64
	ProductionVariants []variantSummary
}

func (s *Server) describe(w http.ResponseWriter, body []byte) {
	var in describeInput
	if err := json.Unmarshal(body, &in); err != nil || in.EndpointName == "" {
		awsfake.WriteJSONError(w, contentType, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value null at 'endpointName' failed to satisfy constraint: Member must not be null")
		return
	}
	if _, ok := s.endpoints[in.EndpointName]; !ok {
		s.notFound(w, in.EndpointName)
		return
	}
	if !s.manual {
		s.advance(in.EndpointName)
	}

	e := s.endpoints[in.EndpointName]
	out := describeOutput{
		EndpointName:       e.Name,
		EndpointArn:        arn(e.Name),
		EndpointConfigName: e.Name + "-config",
		EndpointStatus:     e.Status,
		FailureReason:      e.FailureReason,
		CreationTime:       epoch(e.LastModified.Add(-24 * time.Hour)),
		LastModifiedTime:   epoch(e.LastModified),
	}
	for _, v := range e.Variants {
		vs := variantSummary{
			VariantName:          v.Name,
			CurrentInstanceCount: v.Current,
			DesiredInstanceCount: v.Desired,
			CurrentWeight:        1,
			DesiredWeight:        1,
		}
		if v.InstanceType != "" {
			vs.InstancePools = []instancePool{{InstanceType: v.InstanceType, CurrentInstanceCount: v.Current}}
		}
		out.ProductionVariants = append(out.ProductionVariants, vs)
	}
	awsfake.WriteJSON(w, contentType, out)
}

type updateInput struct {
	EndpointName                string
	DesiredWeightsAndCapacities []struct {
		VariantName          string
		DesiredInstanceCount *int32
	}
}

func (s *Server) update(w http.ResponseWriter, body []byte) {
	var in updateInput
	if err := json.Unmarshal(body, &in); err != nil || in.EndpointName == "" ||
		len(in.DesiredWeightsAndCapacities) == 0 {
		awsfake.WriteJSONError(w, contentType, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value null at 'desiredWeightsAndCapacities' failed to satisfy constraint: Member must not be null")
		return
	}
	desired := map[string]int32{}
	for _, d := range in.DesiredWeightsAndCapacities {
		if d.DesiredInstanceCount == nil {
			continue
		}
		if *d.DesiredInstanceCount < 0 {
			awsfake.WriteJSONError(w, contentType, http.StatusBadRequest, "ValidationException",
				fmt.Sprintf("1 validation error detected: Value '%d' at 'desiredWeightsAndCapacities.1.member.desiredInstanceCount' failed to satisfy constraint: Member must have value greater than or equal to 0", *d.DesiredInstanceCount))
			return
		}
		desired[d.VariantName] = *d.DesiredInstanceCount
	}

	status, code, msg := s.startUpdate(in.EndpointName, desired)
	if code != "" {
		awsfake.WriteJSONError(w, contentType, status, code, msg)
		return
	}
	awsfake.WriteJSON(w, contentType, map[string]string{"EndpointArn": arn(in.EndpointName)})
}

// startUpdate starts an update; on failure it returns the HTTP status,
// error code and message SageMaker would answer with.
func (s *Server) startUpdate(name string, desired map[string]int32) (int, string, string) {
	e, ok := s.endpoints[name]
	if !ok {
		return http.StatusBadRequest, "ValidationException", notFoundMsg(name)
	}
	if e.Status != StatusInService {
		return http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("Cannot update in-progress endpoint %q.", arn(name))
	}
	var missing []string
	for v := range desired {
		if _, ok := e.Variant(v); !ok {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("The variant(s) \"%v\" is/are not present in endpoint %q.", missing, arn(name))
	}

	for i, v := range e.Variants {
		if d, ok := desired[v.Name]; ok {
			e.Variants[i].Desired = d
		}
	}
	e.Status = StatusUpdating
	e.FailureReason = ""
	e.LastModified = time.Now().UTC()
	u := s.newUpdate(e)
	if reason, ok := s.failNext[name]; ok {
		u.failure = reason
		delete(s.failNext, name)
	}
	s.updates[name] = u
	return 0, "", ""
}

func (s *Server) newUpdate(e *Endpoint) *update {
	u := &update{from: map[string]int32{}}
	for _, v := range e.Variants {
		u.from[v.Name] = v.Current
	}
	return u
}

// advance moves an update one step on. At the last step the endpoint is
// InService with current = desired, or back where it started when the
// update fails.
func (s *Server) advance(name string) {
	steps := s.steps
	e, eok := s.endpoints[name]
	u, uok := s.updates[name]
	if !eok || !uok {
		return
	}
	u.step++
	done := u.step >= steps
	for i, v := range e.Variants {
		from := u.from[v.Name]
		switch {
		case done && u.failure != "":
			e.Variants[i].Current, e.Variants[i].Desired = from, from
		case done:
			e.Variants[i].Current = v.Desired
		default:
			e.Variants[i].Current = from + (v.Desired-from)*int32(u.step)/int32(steps)
		}
	}
	if done {
		e.Status = StatusInService
		e.FailureReason = u.failure
		e.LastModified = time.Now().UTC()
		delete(s.updates, name)
	}
}

func (s *Server) notFound(w http.ResponseWriter, name string) {
	awsfake.WriteJSONError(w, contentType, http.StatusBadRequest, "ValidationException", notFoundMsg(name))
}

func notFoundMsg(name string) string {
	return fmt.Sprintf("Could not find endpoint %q.", arn(name))
}

func arn(name string) string {
	return "arn:aws:sagemaker:" + Region + ":" + Account + ":endpoint/" + name
}

func epoch(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}
