package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/slack-go/slack"
	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/pager"
)

// checkTimeout bounds the whole preflight.
const checkTimeout = 60 * time.Second

// manifestScopes are the bot scopes manifest.yaml asks for; the bot calls
// methods that need each of them.
var manifestScopes = []string{
	"commands", "chat:write", "app_mentions:read", "users:read", "users:read.email", "usergroups:read",
}

// leaseName is the Lease the replicas elect a leader with (lease.Config's
// default name).
const leaseName = "catobot"

// kubeAccess is one thing the bot does in Kubernetes, asked of the API
// server with a SelfSubjectAccessReview.
type kubeAccess struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Name        string // "" for any name (list, create, unknown names)
}

// String reads "update deployments/scale".
func (k kubeAccess) String() string {
	r := k.Resource
	if k.Subresource != "" {
		r += "/" + k.Subresource
	}
	return k.Verb + " " + r
}

// kubeAccesses are exactly the verbs the Ray Serve action and the
// Kubernetes lease use: status and scale (deployments, their scale, the
// HPA, pods), rollback (ReplicaSets, deployment update) and leader
// election (Leases).
func kubeAccesses(deployment, hpa string) []kubeAccess {
	return []kubeAccess{
		{Verb: "get", Group: "apps", Resource: "deployments", Name: deployment},
		{Verb: "update", Group: "apps", Resource: "deployments", Name: deployment},
		{Verb: "get", Group: "apps", Resource: "deployments", Subresource: "scale", Name: deployment},
		{Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale", Name: deployment},
		{Verb: "get", Group: "autoscaling", Resource: "horizontalpodautoscalers", Name: hpa},
		{Verb: "patch", Group: "autoscaling", Resource: "horizontalpodautoscalers", Name: hpa},
		{Verb: "get", Group: "apps", Resource: "replicasets"},
		{Verb: "list", Group: "apps", Resource: "replicasets"},
		{Verb: "list", Resource: "pods"},
		{Verb: "get", Group: "coordination.k8s.io", Resource: "leases", Name: leaseName},
		{Verb: "create", Group: "coordination.k8s.io", Resource: "leases"},
		{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Name: leaseName},
	}
}

// checker prints one line per item and remembers whether any failed.
type checker struct {
	w      io.Writer
	failed bool
}

// Marks at the start of each line.
const (
	markOK   = "ok  "
	markFail = "FAIL"
	markSkip = "skip"
)

func (c *checker) line(mark, what, detail string) {
	if mark == markFail {
		c.failed = true
	}
	fmt.Fprintf(c.w, "%s %-42s %s\n", mark, what, detail)
}

func (c *checker) ok(what, detail string)   { c.line(markOK, what, detail) }
func (c *checker) fail(what, detail string) { c.line(markFail, what, detail) }
func (c *checker) skip(what, detail string) { c.line(markSkip, what, detail) }

// Check tells, one line per item, whether what the bot needs works: the
// Slack tokens and the manifest's scopes, the AWS identity, whether each
// runbook resource can be described, whether the Kubernetes identity may
// do each verb the bot uses, and whether the PagerDuty token can read and
// write incidents. It reports whether everything needed passed. No line
// shows a token.
//
// PagerDuty write access is probed with PUT /incidents carrying an empty
// list and no From header: PagerDuty refuses that before acting on
// anything, with HTTP 400 for a token that may write and 403 for a
// read-only one.
func Check(ctx context.Context, cfg config.Config, getenv func(string) string, w io.Writer) bool {
	c := &checker{w: w}
	env, err := ReadEnv(getenv)
	if err != nil {
		c.fail("environment", err.Error())
		return false
	}
	c.ok("environment", "tokens present and well formed")

	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	c.slack(ctx, env)
	c.aws(ctx)
	c.components(ctx, cfg)
	c.kube(ctx, cfg)
	c.pagerDuty(ctx, cfg, env)
	return !c.failed
}

func (c *checker) slack(ctx context.Context, env Env) {
	api := slack.New(env.SlackBotToken.Reveal(), slack.OptionAppLevelToken(env.SlackAppToken.Reveal()),
		slack.OptionAPIURL(slackAPIURL(env.SlackAPIURL)))
	auth, err := api.AuthTestContext(ctx)
	switch {
	case err != nil:
		c.fail("slack bot token (auth.test)", slackProblem("SLACK_BOT_TOKEN", err))
	default:
		c.ok("slack bot token (auth.test)", fmt.Sprintf("bot user %s in %s", auth.UserID, auth.Team))
		c.scopes(auth.Header)
	}

	if _, _, err := api.StartSocketModeContext(ctx); err != nil {
		c.fail("slack app token (socket mode)", slackProblem("SLACK_APP_TOKEN", err))
	} else {
		c.ok("slack app token (socket mode)", "apps.connections.open works")
	}
}

// scopes compares the scopes Slack reports for the bot token with the
// manifest's.
func (c *checker) scopes(h http.Header) {
	const what = "slack bot scopes"
	if h == nil || len(h.Values("X-OAuth-Scopes")) == 0 {
		c.fail(what, "Slack sent no X-OAuth-Scopes header, so the scopes cannot be checked")
		return
	}
	granted := map[string]bool{}
	for _, v := range h.Values("X-OAuth-Scopes") {
		for _, s := range strings.Split(v, ",") {
			granted[strings.TrimSpace(s)] = true
		}
	}
	var missing []string
	for _, s := range manifestScopes {
		if !granted[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		c.fail(what, "missing "+strings.Join(missing, ", ")+
			": add them to the app (manifest.yaml) and reinstall it")
		return
	}
	c.ok(what, fmt.Sprintf("all %d scopes of manifest.yaml granted", len(manifestScopes)))
}

// slackProblem says what a failed Slack call means; Slack's errors are
// codes and never carry the token.
func slackProblem(variable string, err error) string {
	var se slack.SlackErrorResponse
	code := err.Error()
	if errors.As(err, &se) {
		code = se.Err
	}
	switch code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired":
		return fmt.Sprintf("Slack refused %s (%s)", variable, code)
	case "not_allowed_token_type":
		return fmt.Sprintf("%s is the wrong kind of token (%s)", variable, code)
	}
	return "Slack answered: " + code
}

func (c *checker) aws(ctx context.Context) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		c.fail("aws configuration", err.Error())
		return
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		c.fail("aws identity (sts)", awsProblem(err))
		return
	}
	c.ok("aws identity (sts)", fmt.Sprintf("%s in %s", aws.ToString(id.Arn), cfg.Region))
}

// awsProblem is an AWS error as "Code: message", or the error itself
// when no answer came. AWS errors carry no credentials.
func awsProblem(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func (c *checker) components(ctx context.Context, cfg config.Config) {
	set, err := buildActions(ctx, cfg, true, slog.New(slog.DiscardHandler))
	if err != nil {
		c.fail("components", err.Error())
		return
	}
	for _, name := range set.Names() {
		s, err := set[name].Status(ctx)
		if err != nil {
			c.fail("describe "+name, actions.Explain(err))
			continue
		}
		if name == actions.Terraform && s.State != "ready" {
			// The bot runs without Terraform; only /cato tier and
			// /cato rollback terraform need it.
			c.skip("describe "+name, "Terraform is not usable here ("+s.State+"): /cato tier and rollback terraform will not work")
			continue
		}
		c.ok("describe "+name, strings.TrimSpace(s.Target+" "+s.State))
	}
	if _, ok := set[actions.Ray]; !ok {
		c.fail("describe "+actions.Ray, "no Kubernetes configuration (KUBECONFIG or in-cluster)")
	}
}

func (c *checker) kube(ctx context.Context, cfg config.Config) {
	client, err := kubeClient()
	if err != nil {
		c.fail("kubernetes", "no configuration (KUBECONFIG or in-cluster): "+err.Error())
		return
	}
	ray := cfg.Components.Ray
	checkKube(ctx, c, client, ray.Namespace, kubeAccesses(ray.Deployment, ray.HPA))
}

// checkKube asks the API server, once per access, whether this identity
// may do it in namespace.
func checkKube(ctx context.Context, c *checker, client kubernetes.Interface, namespace string, want []kubeAccess) {
	reviews := client.AuthorizationV1().SelfSubjectAccessReviews()
	for _, a := range want {
		what := "kubernetes " + a.String()
		where := namespace
		if a.Name != "" {
			where += "/" + a.Name
		}
		r, err := reviews.Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
				Namespace: namespace, Verb: a.Verb, Group: a.Group, Resource: a.Resource,
				Subresource: a.Subresource, Name: a.Name,
			}},
		}, metav1.CreateOptions{})
		switch {
		case err != nil:
			c.fail(what, "cannot ask the API server (SelfSubjectAccessReview): "+err.Error())
		case r.Status.Allowed:
			c.ok(what, "allowed in "+where)
		default:
			detail := "denied in " + where
			if reason := strings.TrimSpace(r.Status.Reason + " " + r.Status.EvaluationError); reason != "" {
				detail += ": " + reason
			}
			c.fail(what, detail)
		}
	}
}

func (c *checker) pagerDuty(ctx context.Context, cfg config.Config, env Env) {
	if env.PagerDutyToken.IsZero() {
		c.skip("pagerduty", "PAGERDUTY_TOKEN not set: card buttons, alert details and escalation are off")
		return
	}
	base := cfg.PagerDuty.APIURL
	if env.PagerDutyAPIURL != "" {
		base = env.PagerDutyAPIURL
	}
	if base == "" {
		base = pager.DefaultAPIURL
	}
	base = strings.TrimRight(base, "/")
	hc := &http.Client{Timeout: 20 * time.Second}
	token := env.PagerDutyToken.Reveal()

	status, err := pdCall(ctx, hc, token, http.MethodGet, base+"/incidents?limit=1", nil)
	switch {
	case err != nil:
		c.fail("pagerduty read incidents", err.Error())
	case status == http.StatusOK:
		c.ok("pagerduty read incidents", "token can list incidents")
	default:
		c.fail("pagerduty read incidents", pdProblem(status))
	}

	body := strings.NewReader(`{"incidents":[]}`)
	status, err = pdCall(ctx, hc, token, http.MethodPut, base+"/incidents", body)
	switch {
	case err != nil:
		c.fail("pagerduty write incidents", err.Error())
	case status == http.StatusBadRequest, status/100 == 2:
		c.ok("pagerduty write incidents", "token may update incidents (probe changed nothing)")
	case status == http.StatusForbidden:
		c.fail("pagerduty write incidents",
			"read-only token (HTTP 403): Acknowledge, Resolve, Escalate and notes will fail")
	default:
		c.fail("pagerduty write incidents", pdProblem(status))
	}

	if env.RoutingKey.IsZero() {
		c.skip("pagerduty routing key", "PAGERDUTY_ROUTING_KEY not set: escalating with no open incident is off")
	} else {
		c.ok("pagerduty routing key", "set (not sent: a test event would page someone)")
	}
}

// pdCall makes one PagerDuty REST request and returns its HTTP status.
// Its errors never show the token: only the method and path.
func pdCall(ctx context.Context, hc *http.Client, token, method, target string, body io.Reader) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, fmt.Errorf("pagerduty: build %s request: %w", method, err)
	}
	req.Header.Set("Authorization", "Token token="+token)
	req.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("pagerduty: %s %s: %w", method, req.URL.Path, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// pdProblem says what a PagerDuty status means for the token.
func pdProblem(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "PagerDuty refused PAGERDUTY_TOKEN (HTTP 401)"
	case http.StatusForbidden:
		return "the token may not read incidents (HTTP 403)"
	case http.StatusTooManyRequests:
		return "PagerDuty is rate limiting this token (HTTP 429): try again in a minute"
	}
	return fmt.Sprintf("PagerDuty answered HTTP %d", status)
}
