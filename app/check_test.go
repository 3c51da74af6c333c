package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	authv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/fakes/dynamodbfake"
	"github.com/thinktank/catobot/fakes/elasticachefake"
	"github.com/thinktank/catobot/fakes/kubefake"
	"github.com/thinktank/catobot/fakes/opensearchfake"
	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/fakes/sagemakerfake"
	"github.com/thinktank/catobot/fakes/slackfake"
	"github.com/thinktank/catobot/fakes/stsfake"
	"github.com/thinktank/catobot/internal/kubetest"
	"github.com/thinktank/catobot/secret"
)

// Test credentials: they open nothing outside the fakes.
const (
	testAppToken  = "xapp-1-CHECK-0000000000-checkappsecret"
	testBotToken  = "xoxb-0000000000-0000000000000-checkbotsecret"
	testPDToken   = "check-pagerduty-token-secret"
	testAWSSecret = "check-aws-secret-access-key"
	testRouting   = "check-routing-key-secret"
)

// rig is every fake Check talks to, on loopback, and the environment that
// points catobot at them.
type rig struct {
	slack  *slackfake.Server
	sm     *sagemakerfake.Server
	kube   *kubefake.Server
	authz  *authorizer
	pd     *pdfake.Server
	sts    *stsfake.Server
	ec     *elasticachefake.Fake
	ddb    *dynamodbfake.Fake
	oss    *opensearchfake.Fake
	env    map[string]string
	config config.Config
}

// newRig starts the fakes and sets the process environment the AWS SDK
// and client-go read. Every AWS service without a fake of its own goes to
// a server that refuses, so nothing reaches a real endpoint.
func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{
		slack: slackfake.New(slackfake.Options{AppToken: secret.String(testAppToken),
			BotToken: secret.String(testBotToken)}),
		sm:   sagemakerfake.New(),
		kube: kubefake.New(kubefake.Options{}),
		pd:   pdfake.New(testPDToken),
		sts:  stsfake.New(stsfake.Cato()),
		ec:   elasticachefake.New(elasticachefake.Cato()),
		ddb:  dynamodbfake.New(dynamodbfake.Cato()),
		oss:  opensearchfake.New(),
	}
	t.Cleanup(func() {
		r.slack.Close()
		r.sm.Close()
		r.kube.Close()
		r.pd.Close()
		r.sts.Close()
	})
	serve := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	refuse := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no fake for this service", http.StatusNotImplemented)
	})

	r.sm.SetEndpoint("cato-shadow-self", "primary", 5)
	r.sm.SetEndpoint("cato-nli", "primary", 2)
	r.kube.SetDeployment("cato", "cato-orchestrator", 10, 10)
	r.kube.SetHPA("cato", "cato-orchestrator-hpa", 10, 50)
	r.authz = newAuthorizer(t, r.kube)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	writeKubeconfig(t, kubeconfig, serve(r.authz))

	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_REGION":                            "us-east-1",
		"AWS_ACCESS_KEY_ID":                     "AKIACHECK00000000000",
		"AWS_SECRET_ACCESS_KEY":                 testAWSSecret,
		"AWS_SESSION_TOKEN":                     "",
		"AWS_PROFILE":                           "",
		"AWS_ROLE_ARN":                          "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":           "",
		"AWS_EC2_METADATA_DISABLED":             "true",
		"AWS_CONFIG_FILE":                       filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE":           filepath.Join(dir, "none"),
		"AWS_ENDPOINT_URL":                      serve(refuse),
		"AWS_ENDPOINT_URL_STS":                  r.sts.URL(),
		"AWS_ENDPOINT_URL_SAGEMAKER":            r.sm.URL(),
		"AWS_ENDPOINT_URL_ELASTICACHE":          serve(r.ec),
		"AWS_ENDPOINT_URL_DYNAMODB":             serve(r.ddb),
		"AWS_ENDPOINT_URL_OPENSEARCHSERVERLESS": serve(r.oss),
		"KUBECONFIG":                            kubeconfig,
		"KUBERNETES_SERVICE_HOST":               "",
	} {
		t.Setenv(k, v)
	}
	r.env = map[string]string{
		"SLACK_APP_TOKEN":       testAppToken,
		"SLACK_BOT_TOKEN":       testBotToken,
		"SLACK_API_URL":         r.slack.APIURL(),
		"PAGERDUTY_TOKEN":       testPDToken,
		"PAGERDUTY_API_URL":     r.pd.URL(),
		"PAGERDUTY_ROUTING_KEY": testRouting,
	}
	r.config = config.Default()
	r.config.Ledger.URL = "memory"
	return r
}

// run calls Check and returns its output and result.
func (r *rig) run(t *testing.T) (string, bool) {
	t.Helper()
	var out bytes.Buffer
	ok := Check(context.Background(), r.config, func(k string) string { return r.env[k] }, &out)
	for _, s := range []string{testAppToken, testBotToken, testPDToken, testAWSSecret, testRouting, "wrong-secret"} {
		require.NotContains(t, out.String(), s, "a secret reached the output")
	}
	return out.String(), ok
}

func writeKubeconfig(t *testing.T, path, server string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["check"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["check"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["check"] = &clientcmdapi.Context{Cluster: "check", AuthInfo: "check", Namespace: "cato"}
	cfg.CurrentContext = "check"
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
}

// authorizer stands in front of kubefake: it answers
// SelfSubjectAccessReviews, which kubefake does not serve, denying the
// accesses in deny, and passes every other request to kubefake.
type authorizer struct {
	proxy *httputil.ReverseProxy

	mu    sync.Mutex
	deny  map[string]bool // kubeAccess.String()
	off   bool            // answer 404 like an API server without the API
	asked []authv1.ResourceAttributes
}

func newAuthorizer(t *testing.T, kube *kubefake.Server) *authorizer {
	t.Helper()
	target, err := url.Parse(kube.URL())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(kube.CAData()))
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &authorizer{proxy: proxy, deny: map[string]bool{}}
}

func (a *authorizer) Deny(access string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deny[access] = true
}

func (a *authorizer) Off() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.off = true
}

func (a *authorizer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" {
		a.proxy.ServeHTTP(w, r)
		return
	}
	a.mu.Lock()
	off := a.off
	a.mu.Unlock()
	if off || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	review := &authv1.SelfSubjectAccessReview{}
	if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, review); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ra := review.Spec.ResourceAttributes
	if ra == nil {
		http.Error(w, "resourceAttributes required", http.StatusUnprocessableEntity)
		return
	}
	key := kubeAccess{Verb: ra.Verb, Resource: ra.Resource, Subresource: ra.Subresource}.String()
	a.mu.Lock()
	a.asked = append(a.asked, *ra)
	denied := a.deny[key]
	a.mu.Unlock()
	review.Status = authv1.SubjectAccessReviewStatus{Allowed: !denied}
	if denied {
		review.Status.Reason = "no RBAC policy matched"
	}
	review.APIVersion, review.Kind = "authorization.k8s.io/v1", "SelfSubjectAccessReview"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(review)
}

// allGood is what Check prints when everything works.
var allGood = []string{
	"ok   environment                                tokens present and well formed",
	"ok   slack bot token (auth.test)                bot user " + slackfake.DefaultBotUserID + " in " + slackfake.DefaultTeamDomain,
	"ok   slack bot scopes                           all 6 scopes of manifest.yaml granted",
	"ok   slack app token (socket mode)              apps.connections.open works",
	"ok   aws identity (sts)                         arn:aws:sts::111122223333:assumed-role/catobot/botocore-session-1 in us-east-1",
	"ok   describe shadow                            " + "@shadow",
	"ok   describe nli                               " + "@nli",
	"ok   describe ray                               " + "@ray",
	"ok   describe cache                             " + "@cache",
	"ok   describe dynamo                            " + "@dynamo",
	"ok   describe opensearch                        " + "@opensearch",
	"skip describe terraform                         Terraform is not usable here (directory missing): /cato tier and rollback terraform will not work",
	"ok   kubernetes get deployments                 allowed in cato/cato-orchestrator",
	"ok   kubernetes update deployments              allowed in cato/cato-orchestrator",
	"ok   kubernetes get deployments/scale           allowed in cato/cato-orchestrator",
	"ok   kubernetes update deployments/scale        allowed in cato/cato-orchestrator",
	"ok   kubernetes get horizontalpodautoscalers    allowed in cato/cato-orchestrator-hpa",
	"ok   kubernetes patch horizontalpodautoscalers  allowed in cato/cato-orchestrator-hpa",
	"ok   kubernetes get replicasets                 allowed in cato",
	"ok   kubernetes list replicasets                allowed in cato",
	"ok   kubernetes list pods                       allowed in cato",
	"ok   kubernetes get leases                      allowed in cato/catobot",
	"ok   kubernetes create leases                   allowed in cato",
	"ok   kubernetes update leases                   allowed in cato/catobot",
	"ok   pagerduty read incidents                   token can list incidents",
	"ok   pagerduty write incidents                  token may update incidents (probe changed nothing)",
	"ok   pagerduty routing key                      set (not sent: a test event would page someone)",
}

// lines splits out and replaces each "describe" line's detail, which the
// component packages word, by "@name", so the table can name the rest
// exactly.
func lines(out string) []string {
	ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, l := range ls {
		if strings.HasPrefix(l, "ok   describe ") {
			name := strings.Fields(l)[2]
			ls[i] = l[:detailAt] + "@" + name
		}
	}
	return ls
}

func TestCheckAllGood(t *testing.T) {
	r := newRig(t)
	out, ok := r.run(t)
	require.Equal(t, allGood, lines(out), out)
	require.True(t, ok)
	require.Contains(t, out, "ok   describe shadow                            cato-shadow-self/primary")
	require.Len(t, r.authz.asked, len(kubeAccesses("", "")), "one review per access")
}

// TestCheckEachMissingPermission turns off one permission at a time and
// checks the exact line that says so, and that Check then fails.
func TestCheckEachMissingPermission(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *rig)
		want  []string // lines that replace allGood's line of the same item
		drop  []string // items whose line is gone
	}{
		{
			name:  "slack scopes missing",
			setup: func(r *rig) { r.slack.SetScopes("commands", "chat:write", "app_mentions:read", "users:read") },
			want: []string{"FAIL slack bot scopes                           missing users:read.email, usergroups:read: " +
				"add them to the app (manifest.yaml) and reinstall it"},
		},
		{
			name:  "slack bot token refused",
			setup: func(r *rig) { r.env["SLACK_BOT_TOKEN"] = "xoxb-wrong-secret" },
			want:  []string{"FAIL slack bot token (auth.test)                Slack refused SLACK_BOT_TOKEN (invalid_auth)"},
			drop:  []string{"slack bot scopes"},
		},
		{
			name:  "slack app token refused",
			setup: func(r *rig) { r.env["SLACK_APP_TOKEN"] = "xapp-wrong-secret" },
			want:  []string{"FAIL slack app token (socket mode)              Slack refused SLACK_APP_TOKEN (invalid_auth)"},
		},
		{
			name: "aws credentials refused",
			setup: func(r *rig) {
				r.sts.Fail(stsfake.Fault{Code: "InvalidClientTokenId",
					Message: "The security token included in the request is invalid."})
			},
			want: []string{"FAIL aws identity (sts)                         InvalidClientTokenId: " +
				"The security token included in the request is invalid."},
		},
		{
			name: "sagemaker access denied",
			setup: func(r *rig) {
				r.sm.Fail(sagemakerfake.OpDescribeEndpoint, sagemakerfake.Fault{Code: "AccessDeniedException",
					Message: "User is not authorized to perform: sagemaker:DescribeEndpoint"})
			},
			want: []string{"FAIL describe shadow                            the bot's AWS identity may not call " +
				"sagemaker:DescribeEndpoint; add it to the identity's IAM policy for cato-shadow-self"},
		},
		{
			name: "elasticache access denied",
			setup: func(r *rig) {
				r.ec.Fail("DescribeReplicationGroups", elasticachefake.Failure{Status: http.StatusForbidden,
					Code: "AccessDenied", Message: "not authorized to perform: elasticache:DescribeReplicationGroups"})
			},
			want: []string{"FAIL describe cache                             the bot is not allowed to call " +
				"DescribeReplicationGroups on cato-cache-production"},
		},
		{
			name: "dynamodb access denied",
			setup: func(r *rig) {
				r.ddb.Fail("DescribeTable", dynamodbfake.Failure{Code: "AccessDeniedException",
					Message: "not authorized to perform: dynamodb:DescribeTable"})
			},
			want: []string{"FAIL describe dynamo                            the bot is not allowed to call " +
				"DescribeTable on cato-semantic-memory-production"},
		},
		{
			name: "opensearch access denied",
			setup: func(r *rig) {
				r.oss.Fail("GetAccountSettings", opensearchfake.Failure{Code: "AccessDeniedException",
					Message: "not authorized to perform: aoss:GetAccountSettings"})
			},
			want: []string{"FAIL describe opensearch                        the bot is not allowed to call GetAccountSettings"},
		},
		{
			name:  "kubernetes scale denied",
			setup: func(r *rig) { r.authz.Deny("update deployments/scale") },
			want: []string{"FAIL kubernetes update deployments/scale        " +
				"denied in cato/cato-orchestrator: no RBAC policy matched"},
		},
		{
			name:  "kubernetes leases denied",
			setup: func(r *rig) { r.authz.Deny("create leases") },
			want:  []string{"FAIL kubernetes create leases                   denied in cato: no RBAC policy matched"},
		},
		{
			name: "kubernetes deployment read denied",
			setup: func(r *rig) {
				r.authz.Deny("get deployments")
				r.kube.Fail(kubefake.Fault{Verb: "get", Resource: kubefake.Deployments, Code: http.StatusForbidden})
			},
			want: []string{
				"FAIL describe ray                               Kubernetes refused to let the bot get deployments " +
					"in namespace cato (forbidden); its service account needs the \"get\" permission on deployments",
				"FAIL kubernetes get deployments                 denied in cato/cato-orchestrator: no RBAC policy matched",
			},
		},
		{
			name: "pagerduty token refused",
			setup: func(r *rig) {
				r.env["PAGERDUTY_TOKEN"] = "wrong-secret"
			},
			want: []string{
				"FAIL pagerduty read incidents                   PagerDuty refused PAGERDUTY_TOKEN (HTTP 401)",
				"FAIL pagerduty write incidents                  PagerDuty refused PAGERDUTY_TOKEN (HTTP 401)",
			},
		},
		{
			name: "pagerduty token may not read",
			setup: func(r *rig) {
				r.pd.Queue(pdfake.Reply{Method: http.MethodGet, Path: "/incidents", Status: http.StatusForbidden,
					Body: []byte(`{"error":{"message":"Access Denied","code":2010}}`)}, 1)
			},
			want: []string{"FAIL pagerduty read incidents                   the token may not read incidents (HTTP 403)"},
		},
		{
			name: "pagerduty read-only token",
			setup: func(r *rig) {
				r.pd.Queue(pdfake.Reply{Method: http.MethodPut, Path: "/incidents", Status: http.StatusForbidden,
					Body: []byte(`{"error":{"message":"Access Denied","code":2010}}`)}, 1)
			},
			want: []string{"FAIL pagerduty write incidents                  " +
				"read-only token (HTTP 403): Acknowledge, Resolve, Escalate and notes will fail"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			tt.setup(r)
			out, ok := r.run(t)
			require.False(t, ok, "Check must fail:\n%s", out)
			require.Equal(t, expect(t, tt.want, tt.drop), lines(out), out)
		})
	}
}

// expect is allGood with want's lines in place of their items' and drop's
// items removed.
func expect(t *testing.T, want, drop []string) []string {
	t.Helper()
	var out []string
	for _, g := range allGood {
		item := itemOf(g)
		if contains(drop, item) {
			continue
		}
		for _, w := range want {
			if itemOf(w) == item {
				g = w
			}
		}
		out = append(out, g)
	}
	for _, w := range want {
		require.Contains(t, out, w, "want names an item allGood lacks")
	}
	return out
}

// detailAt is where a line's detail starts: the mark, a space, the item
// padded to 42 and a space.
const detailAt = 5 + 42 + 1

func itemOf(line string) string { return strings.TrimSpace(line[5:min(len(line), detailAt)]) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCheckWithoutPagerDutyTokenSkips(t *testing.T) {
	r := newRig(t)
	delete(r.env, "PAGERDUTY_TOKEN")
	delete(r.env, "PAGERDUTY_ROUTING_KEY")
	out, ok := r.run(t)
	require.True(t, ok, out)
	ls := lines(out)
	require.Equal(t, "skip pagerduty                                  "+
		"PAGERDUTY_TOKEN not set: card buttons, alert details and escalation are off", ls[len(ls)-1])
	require.Zero(t, len(r.pd.Calls()))
}

func TestCheckWithoutSelfSubjectAccessReviews(t *testing.T) {
	r := newRig(t)
	r.authz.Off()
	out, ok := r.run(t)
	require.False(t, ok)
	require.Contains(t, out, "FAIL kubernetes get deployments                 "+
		"cannot ask the API server (SelfSubjectAccessReview): the server could not find the requested resource")
}

func TestCheckBadEnvironmentStopsEarly(t *testing.T) {
	r := newRig(t)
	r.env["SLACK_BOT_TOKEN"] = "xoxp-wrong-secret"
	out, ok := r.run(t)
	require.False(t, ok)
	require.Equal(t, "FAIL environment                                "+
		`SLACK_BOT_TOKEN does not look like a bot token: it must start with "xoxb-"`+"\n", out)
	require.Zero(t, r.slack.CallCount("auth.test"))
}

// TestManifestScopes keeps the checked scopes equal to manifest.yaml's.
func TestManifestScopes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "manifest.yaml"))
	require.NoError(t, err)
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	require.NoError(t, yaml.Unmarshal(b, &m))
	require.ElementsMatch(t, m.OAuth.Scopes.Bot, manifestScopes)
}

// TestCheckKubeOnRealAPIServer asks a real kube-apiserver. It authorizes
// with AlwaysAllow, so every access is allowed; denials are covered by
// the authorizer in front of kubefake above.
func TestCheckKubeOnRealAPIServer(t *testing.T) {
	cluster := kubetest.Start(t)
	client, err := kubernetes.NewForConfig(cluster.Config)
	require.NoError(t, err)
	var out bytes.Buffer
	c := &checker{w: &out}
	checkKube(context.Background(), c, client, "cato", kubeAccesses("cato-orchestrator", "cato-orchestrator-hpa"))
	require.False(t, c.failed, out.String())
	require.Len(t, strings.Split(strings.TrimSpace(out.String()), "\n"), len(kubeAccesses("", "")))
	require.Contains(t, out.String(), "ok   kubernetes update deployments/scale        allowed in cato/cato-orchestrator\n")
}
