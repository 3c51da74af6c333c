// Package kubefake is a Kubernetes API server fake that speaks the REST wire protocol on
// loopback, for the Ray Serve action's tests and the sandbox. It serves apps/v1 Deployments
// (with the scale subresource) and ReplicaSets, autoscaling/v2 HorizontalPodAutoscalers,
// core/v1 Pods, coordination.k8s.io/v1 Leases and the discovery endpoints. Requests may be
// protobuf (client-go's typed clients send it by default) or JSON; answers are JSON.
//
// A small controller is simulated: a change to a Deployment's pod template makes a new
// ReplicaSet revision, and ready replicas climb toward spec.replicas over a few reads.
package kubefake

import (
	"crypto/subtle"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Resource names as they appear in calls and faults.
const (
	Deployments = "deployments"
	Scale       = "deployments/scale"
	ReplicaSets = "replicasets"
	HPAs        = "horizontalpodautoscalers"
	Pods        = "pods"
	Leases      = "leases"
)

// Options configure a Server.
type Options struct {
	// Token, when set, must come as "Authorization: Bearer <Token>" on every request;
	// other requests get 401 Unauthorized.
	Token string
	// ReadyTicks is how many reads of a Deployment it takes for its ready replicas to
	// reach spec.replicas after a change. Zero means 3.
	ReadyTicks int
}

// Call is one request the fake received.
type Call struct {
	Verb      string // get, list, create, update, patch, delete, watch
	Resource  string // e.g. "deployments/scale"
	Namespace string
	Name      string
	// ContentType is the request's Content-Type, e.g. "application/merge-patch+json".
	ContentType string
	// Body is a patch as sent, or the decoded object of a create or update as JSON.
	Body []byte
	// Code is the HTTP status the fake answered with.
	Code int
}

// Fault makes the fake fail matching requests with an HTTP status.
type Fault struct {
	Verb     string // "" matches any verb
	Resource string // "" matches any resource
	Name     string // "" matches any name
	// Code is the HTTP status: 401, 403, 404, 409, 422, 429, 500, 503 or 504.
	Code int
	// Times is how many matching requests fail; zero means one.
	Times int
}

// Server is a running fake Kubernetes API server. Its methods are safe for concurrent use.
type Server struct {
	srv        *httptest.Server
	token      string
	readyTicks int

	mu     sync.Mutex
	rv     int64
	uid    int64
	deps   map[key]*depState
	rss    map[key]*appsv1.ReplicaSet
	hpas   map[key]*autoscalingv2.HorizontalPodAutoscaler
	leases map[key]*coordinationv1.Lease
	faults []Fault
	calls  []Call
}

type key struct{ ns, name string }

// New starts a fake API server over TLS on a loopback port. Close it when done.
func New(opts Options) *Server {
	s := &Server{
		token:      opts.Token,
		readyTicks: opts.ReadyTicks,
		deps:       map[key]*depState{},
		rss:        map[key]*appsv1.ReplicaSet{},
		hpas:       map[key]*autoscalingv2.HorizontalPodAutoscaler{},
		leases:     map[key]*coordinationv1.Lease{},
	}
	if s.readyTicks <= 0 {
		s.readyTicks = 3
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL returns the server's base URL, https://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// CAData returns the PEM certificate that clients must trust to reach the server.
func (s *Server) CAData() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// RESTConfig returns a client-go configuration pointing at the server, with its token.
func (s *Server) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            s.srv.URL,
		BearerToken:     s.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CAData()},
	}
}

// Kubeconfig returns a kubeconfig file's contents with one context, "kubefake", pointing at
// the server. namespace becomes the context's default namespace when not empty.
func (s *Server) Kubeconfig(namespace string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubefake"] = &clientcmdapi.Cluster{
		Server:                   s.srv.URL,
		CertificateAuthorityData: s.CAData(),
	}
	cfg.AuthInfos["kubefake"] = &clientcmdapi.AuthInfo{Token: s.token}
	cfg.Contexts["kubefake"] = &clientcmdapi.Context{
		Cluster: "kubefake", AuthInfo: "kubefake", Namespace: namespace,
	}
	cfg.CurrentContext = "kubefake"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return b, nil
}

// WriteKubeconfig writes Kubeconfig to path with mode 0600, for a process that reads
// KUBECONFIG.
func (s *Server) WriteKubeconfig(path, namespace string) error {
	b, err := s.Kubeconfig(namespace)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// Fail adds a fault: the next f.Times matching requests answer with f.Code.
func (s *Server) Fail(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns a copy of the calls so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of verb on resource were received.
func (s *Server) Count(verb, resource string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Verb == verb && c.Resource == resource {
			n++
		}
	}
	return n
}

// Mutations returns the create, update, patch and delete calls so far.
func (s *Server) Mutations() []Call {
	var out []Call
	for _, c := range s.Calls() {
		switch c.Verb {
		case "create", "update", "patch", "delete":
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the calls so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// request is a parsed API path.
type request struct {
	verb     string
	group    string // "" for the core group
	version  string
	resource string // with "/scale" for the subresource
	ns       string
	name     string
	body     []byte
	ctype    string
	r        *http.Request
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.token != "" {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+s.token)) != 1 {
			writeStatus(w, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
	}
	switch r.URL.Path {
	case "/healthz", "/readyz", "/livez":
		_, _ = io.WriteString(w, "ok")
		return
	case "/version":
		writeJSON(w, http.StatusOK, map[string]string{
			"major": "1", "minor": "37", "gitVersion": "v1.37.2-kubefake", "platform": "linux/amd64",
		})
		return
	case "/api":
		writeJSON(w, http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
		})
		return
	case "/apis":
		writeJSON(w, http.StatusOK, apiGroups())
		return
	}
	req, ok := parsePath(r)
	if !ok {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
		return
	}
	if r.Body != nil {
		req.body, _ = io.ReadAll(r.Body)
	}
	req.ctype = r.Header.Get("Content-Type")
	req.r = r

	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Verb: req.verb, Resource: req.resource, Namespace: req.ns, Name: req.name,
		ContentType: req.ctype}
	obj, st := s.injected(req)
	if st == nil {
		obj, call.Body, st = s.handle(req)
	}
	if st != nil {
		call.Code = int(st.ErrStatus.Code)
		s.calls = append(s.calls, call)
		writeStatus(w, st)
		return
	}
	call.Code = http.StatusOK
	if req.verb == "create" {
		call.Code = http.StatusCreated
	}
	s.calls = append(s.calls, call)
	writeJSON(w, call.Code, obj)
}

// injected returns the status of the first fault matching req, using it up.
func (s *Server) injected(req request) (runtime.Object, *apierrors.StatusError) {
	for i, f := range s.faults {
		if (f.Verb != "" && f.Verb != req.verb) || (f.Resource != "" && f.Resource != req.resource) ||
			(f.Name != "" && f.Name != req.name) {
			continue
		}
		s.faults[i].Times--
		if s.faults[i].Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return nil, faultStatus(f, req)
	}
	return nil, nil
}

func faultStatus(f Fault, req request) *apierrors.StatusError {
	gr := groupResource(req)
	switch f.Code {
	case http.StatusUnauthorized:
		return apierrors.NewUnauthorized("Unauthorized")
	case http.StatusForbidden:
		return apierrors.NewForbidden(gr, req.name, fmt.Errorf(
			"User \"system:serviceaccount:cato:catobot\" cannot %s resource %q in API group %q in the namespace %q",
			req.verb, req.resource, req.group, req.ns))
	case http.StatusNotFound:
		return apierrors.NewNotFound(gr, req.name)
	case http.StatusConflict:
		return conflict(gr, req.name)
	case http.StatusUnprocessableEntity:
		return apierrors.NewInvalid(schema.GroupKind{Group: gr.Group, Kind: gr.Resource}, req.name, nil)
	case http.StatusTooManyRequests:
		return apierrors.NewTooManyRequests("too many requests, please try again later", 0)
	case http.StatusServiceUnavailable:
		return apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	case http.StatusGatewayTimeout:
		return apierrors.NewTimeoutError("request did not complete within the allowed duration", 0)
	default:
		return apierrors.NewInternalError(fmt.Errorf("injected fault %d", f.Code))
	}
}

func conflict(gr schema.GroupResource, name string) *apierrors.StatusError {
	return apierrors.NewConflict(gr, name, fmt.Errorf(
		"the object has been modified; please apply your changes to the latest version and try again"))
}

func groupResource(req request) schema.GroupResource {
	return schema.GroupResource{Group: req.group, Resource: strings.TrimSuffix(req.resource, "/scale")}
}

// parsePath reads /api/v1/namespaces/NS/RES[/NAME[/SUB]] and
// /apis/GROUP/VERSION/namespaces/NS/RES[/NAME[/SUB]], and cluster-wide lists.
func parsePath(r *http.Request) (request, bool) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var req request
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		req.version, parts = parts[1], parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		req.group, req.version, parts = parts[1], parts[2], parts[3:]
	default:
		return req, false
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		req.ns, parts = parts[1], parts[2:]
	}
	switch len(parts) {
	case 1:
		req.resource = parts[0]
	case 2:
		req.resource, req.name = parts[0], parts[1]
	case 3:
		req.resource, req.name = parts[0]+"/"+parts[2], parts[1]
	default:
		return req, false
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			req.verb = "watch"
		case req.name == "":
			req.verb = "list"
		default:
			req.verb = "get"
		}
	case http.MethodPost:
		req.verb = "create"
	case http.MethodPut:
		req.verb = "update"
	case http.MethodPatch:
		req.verb = "patch"
	case http.MethodDelete:
		req.verb = "delete"
	default:
		return req, false
	}
	return req, true
}

var served = map[string]string{
	"/v1/" + Pods:                      "core",
	"apps/v1/" + Deployments:           "apps",
	"apps/v1/" + Scale:                 "apps",
	"apps/v1/" + ReplicaSets:           "apps",
	"autoscaling/v2/" + HPAs:           "autoscaling",
	"coordination.k8s.io/v1/" + Leases: "coordination",
}

// handle serves a request that no fault caught. It returns the answer, the body to
// record and, on failure, the status.
func (s *Server) handle(req request) (runtime.Object, []byte, *apierrors.StatusError) {
	if served[req.group+"/"+req.version+"/"+req.resource] == "" {
		return nil, nil, apierrors.NewNotFound(groupResource(req), req.name)
	}
	if req.verb == "watch" {
		return nil, nil, apierrors.NewMethodNotSupported(groupResource(req), "watch")
	}
	switch req.resource {
	case Deployments:
		return s.handleDeployment(req)
	case Scale:
		return s.handleScale(req)
	case ReplicaSets:
		return s.handleReplicaSets(req)
	case HPAs:
		return s.handleHPA(req)
	case Pods:
		return s.handlePods(req)
	case Leases:
		return s.handleLease(req)
	}
	return nil, nil, apierrors.NewNotFound(groupResource(req), req.name)
}

// decode reads a create or update body, protobuf or JSON, into out, and returns the object
// as JSON for the call record.
func decode(req request, out runtime.Object) ([]byte, *apierrors.StatusError) {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(req.body, nil, out)
	if err != nil {
		return nil, apierrors.NewBadRequest("decode body: " + err.Error())
	}
	if obj != out {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decode body: unexpected %T", obj))
	}
	b, _ := json.Marshal(out)
	return b, nil
}

// patchJSON applies a merge patch (strategic merge patches are treated the same way, which
// suits the simple patches clients send for these resources) to orig.
func patchJSON(req request, orig any) ([]byte, *apierrors.StatusError) {
	ct := strings.TrimSpace(strings.SplitN(req.ctype, ";", 2)[0])
	switch ct {
	case "application/merge-patch+json", "application/strategic-merge-patch+json":
	default:
		return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType,
			Reason:  metav1.StatusReasonUnsupportedMediaType,
			Message: fmt.Sprintf("the fake does not support patch type %q", ct),
		}}
	}
	base, err := json.Marshal(orig)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out, err := MergePatch(base, req.body)
	if err != nil {
		return nil, apierrors.NewBadRequest("apply patch: " + err.Error())
	}
	return out, nil
}

// MergePatch applies an RFC 7386 JSON merge patch to doc.
func MergePatch(doc, patch []byte) ([]byte, error) {
	var d, p any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("merge patch: document: %w", err)
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, fmt.Errorf("merge patch: patch: %w", err)
	}
	return json.Marshal(mergeValue(d, p))
}

func mergeValue(d, p any) any {
	pm, ok := p.(map[string]any)
	if !ok {
		return p
	}
	dm, ok := d.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = mergeValue(dm[k], v)
	}
	return dm
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, st *apierrors.StatusError) {
	status := st.ErrStatus
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	status.Status = metav1.StatusFailure
	writeJSON(w, int(status.Code), &status)
}

func apiGroups() *metav1.APIGroupList {
	group := func(name, version string) metav1.APIGroup {
		gv := metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + version, Version: version}
		return metav1.APIGroup{Name: name, Versions: []metav1.GroupVersionForDiscovery{gv},
			PreferredVersion: gv}
	}
	return &metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups: []metav1.APIGroup{
			group("apps", "v1"), group("autoscaling", "v2"), group("coordination.k8s.io", "v1"),
		},
	}
}
