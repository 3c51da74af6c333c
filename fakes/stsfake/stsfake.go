// Package stsfake is a wire fake of AWS STS's GetCallerIdentity in the
// query protocol, on loopback. Point the SDK at it with
// AWS_ENDPOINT_URL_STS or sts.Options.BaseEndpoint. It answers the
// identity it holds, refuses unsigned requests as STS does, can fail on
// demand, and records every call.
package stsfake

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/thinktank/catobot/fakes/awsfake"
)

// OpGetCallerIdentity is the one operation the fake serves.
const OpGetCallerIdentity = "GetCallerIdentity"

// Identity is who the caller is, as GetCallerIdentity tells it.
type Identity struct {
	Account string
	Arn     string
	UserID  string
}

// Cato is an IRSA role session in the placeholder account of the cases.
func Cato() Identity {
	return Identity{
		Account: "111122223333",
		Arn:     "arn:aws:sts::111122223333:assumed-role/catobot/botocore-session-1",
		UserID:  "AROAEXAMPLEID00000000:botocore-session-1",
	}
}

// Fault is an error the fake answers instead of the identity.
type Fault struct {
	Status  int    // HTTP status; 403 when zero
	Code    string // e.g. "InvalidClientTokenId", "ExpiredToken"
	Message string
	// Times is how many calls in a row fail; 1 when zero.
	Times int
}

// Server is a running fake STS. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	rec awsfake.Recorder

	mu     sync.Mutex
	id     Identity
	faults []Fault
}

// New starts a fake STS on 127.0.0.1 answering id. Close it when done.
func New(id Identity) *Server {
	s := &Server{id: id}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL returns the base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetIdentity replaces the identity answered.
func (s *Server) SetIdentity(id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id = id
}

// Fail makes the next f.Times calls answer f.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 {
		f.Status = http.StatusForbidden
	}
	for range max(f.Times, 1) {
		s.faults = append(s.faults, f)
	}
}

// Calls returns a copy of the calls received.
func (s *Server) Calls() []awsfake.Call { return s.rec.Calls() }

// Count returns how many calls of op were received.
func (s *Server) Count(op string) int { return s.rec.Count(op) }

type identityResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResult"`
	Arn     string   `xml:"Arn"`
	UserID  string   `xml:"UserId"`
	Account string   `xml:"Account"`
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	op, form, err := awsfake.ReadQuery(req)
	if err != nil {
		awsfake.WriteQueryError(w, http.StatusBadRequest, "MalformedQueryString", "the body is not a form")
		return
	}
	service := awsfake.SigningService(req)
	s.rec.Record(awsfake.Call{Service: service, Op: op, Body: []byte(form.Encode())})
	if service == "" {
		awsfake.WriteQueryError(w, http.StatusForbidden, "MissingAuthenticationToken",
			"Request is missing Authentication Token")
		return
	}

	s.mu.Lock()
	var fault *Fault
	if len(s.faults) > 0 {
		fault, s.faults = &s.faults[0], s.faults[1:]
	}
	id := s.id
	s.mu.Unlock()

	switch {
	case fault != nil:
		awsfake.WriteQueryError(w, fault.Status, fault.Code, fault.Message)
	case op != OpGetCallerIdentity:
		awsfake.WriteQueryError(w, http.StatusBadRequest, "InvalidAction",
			"the fake STS does not implement "+op)
	default:
		awsfake.WriteQuery(w, op, identityResult{Arn: id.Arn, UserID: id.UserID, Account: id.Account})
	}
}
