// Package awsfake holds what the AWS service fakes share: reading a request
// in the JSON or query protocol, writing answers and errors the way AWS
// does, and recording every call so tests can assert on order and count.
package awsfake

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Call is one request a fake received.
type Call struct {
	Service string // signing name from the Authorization header, e.g. "sagemaker"
	Op      string // operation, e.g. "UpdateEndpointWeightsAndCapacities"
	Body    []byte
}

// Recorder keeps the calls a fake received, safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

// Record appends c.
func (r *Recorder) Record(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

// Calls returns a copy of the calls so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Count returns how many calls of op were received.
func (r *Recorder) Count(op string) int {
	n := 0
	for _, c := range r.Calls() {
		if c.Op == op {
			n++
		}
	}
	return n
}

// SigningService returns the service name from a SigV4 Authorization
// header's credential scope, or "" when there is none.
func SigningService(req *http.Request) string {
	auth := req.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	scope := strings.SplitN(auth[i+len("Credential="):], ",", 2)[0]
	parts := strings.Split(scope, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

// ReadJSON reads a JSON-protocol request (awsJson1_0 or awsJson1_1): the
// operation from X-Amz-Target ("SageMaker.DescribeEndpoint") and the body.
func ReadJSON(req *http.Request) (op string, body []byte, err error) {
	target := req.Header.Get("X-Amz-Target")
	if i := strings.LastIndex(target, "."); i >= 0 {
		op = target[i+1:]
	}
	body, err = io.ReadAll(req.Body)
	return op, body, err
}

// ReadQuery reads a query-protocol request (ElastiCache): the Action and
// the other form values.
func ReadQuery(req *http.Request) (op string, form url.Values, err error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return "", nil, err
	}
	form, err = url.ParseQuery(string(body))
	if err != nil {
		return "", nil, err
	}
	return form.Get("Action"), form, nil
}

// WriteJSON answers a JSON-protocol request with v.
func WriteJSON(w http.ResponseWriter, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSONError answers a JSON-protocol request with an AWS error, whose
// code the SDK surfaces as smithy.APIError.ErrorCode().
func WriteJSONError(w http.ResponseWriter, contentType string, status int, code, msg string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// WriteQuery answers a query-protocol request: v is marshalled inside
// <{Op}Response><{Op}Result>…</{Op}Result></{Op}Response>.
func WriteQuery(w http.ResponseWriter, op string, v any) {
	inner, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, "<"+op+"Response><"+op+"Result>")
	_, _ = w.Write(stripOuter(inner))
	_, _ = io.WriteString(w, "</"+op+"Result><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></"+op+"Response>")
}

// stripOuter drops the outermost element of a marshalled value, so that a
// struct's fields become the Result element's children.
func stripOuter(b []byte) []byte {
	s := string(b)
	start := strings.Index(s, ">")
	end := strings.LastIndex(s, "</")
	if start < 0 || end < start {
		return b
	}
	return []byte(s[start+1 : end])
}

// WriteQueryError answers a query-protocol request with an AWS error.
func WriteQueryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(msg))
	_, _ = io.WriteString(w, "<ErrorResponse><Error><Type>Sender</Type><Code>"+code+"</Code><Message>"+b.String()+"</Message></Error><RequestId>fake</RequestId></ErrorResponse>")
}
