// Package sandbox runs catobot against built-in fakes of Slack (socket mode
// and Web API), PagerDuty, SageMaker, ElastiCache and Kubernetes on
// loopback. The bot reaches them only through the same environment
// variables and configuration it reads in production, so the sandbox runs
// exactly the production code. It plays scenarios written in YAML and is
// what `catobot demo` and the end-to-end tests use.
package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/thinktank/catobot/app"
	"github.com/thinktank/catobot/config"
	"github.com/thinktank/catobot/fakes/cloudwatchfake"
	"github.com/thinktank/catobot/fakes/computeoptimizerfake"
	"github.com/thinktank/catobot/fakes/dynamodbfake"
	"github.com/thinktank/catobot/fakes/elasticachefake"
	"github.com/thinktank/catobot/fakes/kubefake"
	"github.com/thinktank/catobot/fakes/opensearchfake"
	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/fakes/sagemakerfake"
	"github.com/thinktank/catobot/fakes/slackfake"
	"github.com/thinktank/catobot/fakes/stsfake"
	"github.com/thinktank/catobot/secret"
)

// Sandbox credentials: they open nothing outside the fakes.
const (
	slackAppToken = "xapp-1-SANDBOX-0000000000-sandbox"
	slackBotToken = "xoxb-0000000000-0000000000000-sandbox"
	pdToken       = "sandbox-pagerduty-token"
	webhookSecret = "sandbox-webhook-secret"
	// OnCallUser is the sandbox's on-call engineer, allowed to act.
	OnCallUser = "U0ONCALL01"
	// SecondUser is a second allowed person, for approvals.
	SecondUser = "U0ALEX0001"
)

// Sandbox is a running set of fakes.
type Sandbox struct {
	Slack     *slackfake.Server
	SageMaker *sagemakerfake.Server
	Kube      *kubefake.Server
	PagerDuty *pdfake.Server
	STS       *stsfake.Server

	ElastiCache *elasticachefake.Fake
	DynamoDB    *dynamodbfake.Fake
	OpenSearch  *opensearchfake.Fake
	CloudWatch  *cloudwatchfake.Fake
	Optimizer   *computeoptimizerfake.Fake
	servers     []*httptest.Server
	dir         string

	onAck atomic.Pointer[func(slackfake.Ack)]
}

// OnAck sets a function called for every socket-mode ack as it arrives,
// so tests can order acks against other systems' calls.
func (s *Sandbox) OnAck(f func(slackfake.Ack)) { s.onAck.Store(&f) }

// Start starts every fake on loopback, seeded with st. Close stops them.
func Start(st State) (*Sandbox, error) {
	dir, err := os.MkdirTemp("", "catobot-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{dir: dir}
	s.Slack = slackfake.New(slackfake.Options{
		AppToken: secret.String(slackAppToken),
		BotToken: secret.String(slackBotToken),
		OnAck: func(a slackfake.Ack) {
			if f := s.onAck.Load(); f != nil {
				(*f)(a)
			}
		},
	})
	s.SageMaker = sagemakerfake.New()
	s.Kube = kubefake.New(kubefake.Options{})
	s.PagerDuty = pdfake.New(pdToken)
	s.STS = stsfake.New(stsfake.Cato())
	s.ElastiCache = elasticachefake.New(elasticachefake.Cato())
	s.DynamoDB = dynamodbfake.New(dynamodbfake.Cato())
	s.OpenSearch = opensearchfake.New()
	s.CloudWatch = cloudwatchfake.New()
	s.Optimizer = computeoptimizerfake.New(computeoptimizerfake.Cato()...)
	for _, h := range []http.Handler{s.ElastiCache, s.DynamoDB, s.OpenSearch, s.CloudWatch, s.Optimizer} {
		s.servers = append(s.servers, httptest.NewServer(h))
	}
	if err := s.Kube.WriteKubeconfig(filepath.Join(dir, "kubeconfig"), "cato"); err != nil {
		s.Close()
		return nil, fmt.Errorf("sandbox: write kubeconfig: %w", err)
	}
	if err := s.Seed(st); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the fakes and removes the sandbox's files.
func (s *Sandbox) Close() {
	s.Slack.Close()
	s.SageMaker.Close()
	s.Kube.Close()
	s.PagerDuty.Close()
	s.STS.Close()
	for _, srv := range s.servers {
		srv.Close()
	}
	_ = os.RemoveAll(s.dir)
}

// Env is the environment that points catobot at the fakes: the same
// variables an operator sets in production.
func (s *Sandbox) Env() map[string]string {
	return map[string]string{
		"SLACK_APP_TOKEN":                       slackAppToken,
		"SLACK_BOT_TOKEN":                       slackBotToken,
		"SLACK_API_URL":                         s.Slack.APIURL(),
		"PAGERDUTY_TOKEN":                       pdToken,
		"PAGERDUTY_API_URL":                     s.PagerDuty.URL(),
		"PAGERDUTY_EVENTS_URL":                  s.PagerDuty.URL(),
		"PAGERDUTY_WEBHOOK_SECRET":              webhookSecret,
		"AWS_REGION":                            "us-east-1",
		"AWS_ACCESS_KEY_ID":                     "AKIASANDBOX000000000",
		"AWS_SECRET_ACCESS_KEY":                 "sandbox-secret-access-key",
		"AWS_EC2_METADATA_DISABLED":             "true",
		"AWS_CONFIG_FILE":                       filepath.Join(s.dir, "aws-config-none"),
		"AWS_SHARED_CREDENTIALS_FILE":           filepath.Join(s.dir, "aws-credentials-none"),
		"AWS_ENDPOINT_URL_SAGEMAKER":            s.SageMaker.URL(),
		"AWS_ENDPOINT_URL_ELASTICACHE":          s.servers[0].URL,
		"AWS_ENDPOINT_URL_DYNAMODB":             s.servers[1].URL,
		"AWS_ENDPOINT_URL_OPENSEARCHSERVERLESS": s.servers[2].URL,
		"AWS_ENDPOINT_URL_STS":                  s.STS.URL(),
		"AWS_ENDPOINT_URL_CLOUDWATCH":           s.servers[3].URL,
		"AWS_ENDPOINT_URL_COMPUTE_OPTIMIZER":    s.servers[4].URL,
		// Any AWS service without a fake of its own fails here, on
		// loopback, instead of reaching AWS.
		"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
		"KUBECONFIG":       filepath.Join(s.dir, "kubeconfig"),
	}
}

// Apply sets the environment of this process to Env. The AWS SDK and
// client-go read it as they would in production.
func (s *Sandbox) Apply() error {
	for k, v := range s.Env() {
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("sandbox: set %s: %w", k, err)
		}
	}
	_ = os.Unsetenv("AWS_PROFILE")
	return nil
}

// Config is the runbook's default configuration with what the sandbox
// needs: a ledger in memory, the sandbox's people allowed to act, and
// waits short enough to watch.
func (s *Sandbox) Config() config.Config {
	c := config.Default()
	c.Access.Users = []string{OnCallUser, SecondUser}
	c.Ledger.URL = "memory"
	fast := 50 * time.Millisecond
	comp := &c.Components
	for _, poll := range []*time.Duration{&comp.Shadow.PollInterval, &comp.NLI.PollInterval, &comp.Ray.PollInterval,
		&comp.Cache.PollInterval, &comp.Dynamo.PollInterval} {
		*poll = fast
	}
	for _, max := range []*time.Duration{&comp.Shadow.MaxPollInterval, &comp.NLI.MaxPollInterval,
		&comp.Cache.MaxPollInterval, &comp.Dynamo.MaxPollInterval} {
		*max = 4 * fast
	}
	return c
}

// Options are the app options that run the bot against this sandbox.
func (s *Sandbox) Options(env app.Env) app.Options {
	return app.Options{Config: s.Config(), Env: env, Listen: "127.0.0.1:0", PostGap: 20 * time.Millisecond}
}

// Seed puts st into the fakes.
func (s *Sandbox) Seed(st State) error {
	for _, name := range sortedKeys(st.SageMaker) {
		e := st.SageMaker[name]
		variant := e.Variant
		if variant == "" {
			variant = "primary"
		}
		s.SageMaker.SetEndpoint(name, variant, val(e.Instances, 1))
	}
	for _, key := range sortedKeys(st.Deployments) {
		d := st.Deployments[key]
		ns, name, err := splitKey(key)
		if err != nil {
			return fmt.Errorf("sandbox: deployments: %w", err)
		}
		r := val(d.Replicas, 1)
		s.Kube.SetDeployment(ns, name, r, val(d.Ready, r))
		if d.Image != "" {
			s.Kube.SetImage(ns, name, d.Image)
		}
	}
	for _, id := range sortedKeys(st.ElastiCache) {
		c := st.ElastiCache[id]
		g, ok := s.ElastiCache.Group(id)
		if !ok {
			g = elasticachefake.Group{ID: id, Status: "available", NodeType: "cache.r7g.xlarge", ClusterMode: "disabled", Shards: 1, Replicas: 1}
		}
		if c.NodeType != "" {
			g.NodeType = c.NodeType
		}
		if c.Replicas != nil {
			g.Replicas = *c.Replicas
		}
		if c.Status != "" {
			g.Status = c.Status
		}
		s.ElastiCache.SetGroup(g)
	}
	for _, name := range sortedKeys(st.DynamoDB) {
		d := st.DynamoDB[name]
		tb, ok := s.DynamoDB.Table(name)
		if !ok {
			tb = dynamodbfake.Table{Name: name, Status: "ACTIVE", BillingMode: "PROVISIONED", Read: 1, Write: 1}
		}
		if d.Read != nil {
			tb.Read = *d.Read
		}
		if d.Write != nil {
			tb.Write = *d.Write
		}
		if d.Billing != "" {
			tb.BillingMode = d.Billing
		}
		if d.Status != "" {
			tb.Status = d.Status
		}
		s.DynamoDB.SetTable(tb)
	}
	if o := st.OpenSearch; o != nil {
		idx, srch := s.OpenSearch.Limits()
		if o.Indexing != nil {
			idx = *o.Indexing
		}
		if o.Search != nil {
			srch = *o.Search
		}
		s.OpenSearch.SetLimits(idx, srch)
	}
	for _, m := range st.Metrics {
		s.CloudWatch.SetValue(m.Namespace, m.Metric, m.Dimensions, m.Value)
	}
	for _, key := range sortedKeys(st.HPAs) {
		h := st.HPAs[key]
		ns, name, err := splitKey(key)
		if err != nil {
			return fmt.Errorf("sandbox: hpas: %w", err)
		}
		s.Kube.SetHPA(ns, name, val(h.Min, 1), val(h.Max, 10))
	}
	return nil
}

// Check compares the fakes with want and returns what differs, or "".
func (s *Sandbox) Check(want State) string {
	var diffs []string
	for _, name := range sortedKeys(want.SageMaker) {
		w := want.SageMaker[name]
		e, ok := s.SageMaker.Endpoint(name)
		if !ok {
			diffs = append(diffs, "sagemaker "+name+": no such endpoint")
			continue
		}
		variant := w.Variant
		if variant == "" {
			variant = "primary"
		}
		v, ok := e.Variant(variant)
		if !ok {
			diffs = append(diffs, fmt.Sprintf("sagemaker %s: no variant %s", name, variant))
			continue
		}
		if w.Instances != nil && v.Current != *w.Instances {
			diffs = append(diffs, fmt.Sprintf("sagemaker %s/%s: %d instances, want %d", name, variant, v.Current, *w.Instances))
		}
		if w.Status != "" && e.Status != w.Status {
			diffs = append(diffs, fmt.Sprintf("sagemaker %s: %s, want %s", name, e.Status, w.Status))
		}
	}
	for _, key := range sortedKeys(want.Deployments) {
		w := want.Deployments[key]
		ns, name, _ := splitKey(key)
		d, ok := s.Kube.Deployment(ns, name)
		if !ok {
			diffs = append(diffs, "deployment "+key+": not found")
			continue
		}
		if w.Replicas != nil && val(d.Spec.Replicas, 1) != *w.Replicas {
			diffs = append(diffs, fmt.Sprintf("deployment %s: %d replicas, want %d", key, val(d.Spec.Replicas, 1), *w.Replicas))
		}
		if w.Ready != nil && d.Status.ReadyReplicas != *w.Ready {
			diffs = append(diffs, fmt.Sprintf("deployment %s: %d ready, want %d", key, d.Status.ReadyReplicas, *w.Ready))
		}
		if img := image(d); w.Image != "" && img != w.Image {
			diffs = append(diffs, fmt.Sprintf("deployment %s: image %s, want %s", key, img, w.Image))
		}
	}
	for _, key := range sortedKeys(want.HPAs) {
		w := want.HPAs[key]
		ns, name, _ := splitKey(key)
		h, ok := s.Kube.HPA(ns, name)
		if !ok {
			diffs = append(diffs, "hpa "+key+": not found")
			continue
		}
		if w.Max != nil && h.Spec.MaxReplicas != *w.Max {
			diffs = append(diffs, fmt.Sprintf("hpa %s: max %d, want %d", key, h.Spec.MaxReplicas, *w.Max))
		}
		if w.Min != nil && val(h.Spec.MinReplicas, 1) != *w.Min {
			diffs = append(diffs, fmt.Sprintf("hpa %s: min %d, want %d", key, val(h.Spec.MinReplicas, 1), *w.Min))
		}
	}
	for _, id := range sortedKeys(want.ElastiCache) {
		w := want.ElastiCache[id]
		g, ok := s.ElastiCache.Group(id)
		switch {
		case !ok:
			diffs = append(diffs, "elasticache "+id+": not found")
		case w.NodeType != "" && g.NodeType != w.NodeType:
			diffs = append(diffs, fmt.Sprintf("elasticache %s: %s, want %s", id, g.NodeType, w.NodeType))
		case w.Replicas != nil && g.Replicas != *w.Replicas:
			diffs = append(diffs, fmt.Sprintf("elasticache %s: %d replicas, want %d", id, g.Replicas, *w.Replicas))
		case w.Status != "" && g.Status != w.Status:
			diffs = append(diffs, fmt.Sprintf("elasticache %s: %s, want %s", id, g.Status, w.Status))
		}
	}
	for _, name := range sortedKeys(want.DynamoDB) {
		w := want.DynamoDB[name]
		tb, ok := s.DynamoDB.Table(name)
		switch {
		case !ok:
			diffs = append(diffs, "dynamodb "+name+": not found")
		case w.Read != nil && tb.Read != *w.Read:
			diffs = append(diffs, fmt.Sprintf("dynamodb %s: read %d, want %d", name, tb.Read, *w.Read))
		case w.Write != nil && tb.Write != *w.Write:
			diffs = append(diffs, fmt.Sprintf("dynamodb %s: write %d, want %d", name, tb.Write, *w.Write))
		}
	}
	if o := want.OpenSearch; o != nil {
		idx, srch := s.OpenSearch.Limits()
		if o.Indexing != nil && idx != *o.Indexing {
			diffs = append(diffs, fmt.Sprintf("opensearch: indexing %d, want %d", idx, *o.Indexing))
		}
		if o.Search != nil && srch != *o.Search {
			diffs = append(diffs, fmt.Sprintf("opensearch: search %d, want %d", srch, *o.Search))
		}
	}
	return strings.Join(diffs, "; ")
}

// image is a deployment's first container image.
func image(d *appsv1.Deployment) string {
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		return cs[0].Image
	}
	return ""
}

// seedIncident puts the incident of a webhook body into the PagerDuty fake,
// so that buttons acting on it find it there.
func (s *Sandbox) seedIncident(body []byte) error {
	var doc struct {
		Event struct {
			Data json.RawMessage `json:"data"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("webhook body: %w", err)
	}
	if len(doc.Event.Data) == 0 {
		return fmt.Errorf("webhook body has no event.data")
	}
	return s.PagerDuty.SeedIncidents(append(append([]byte(`{"incident":`), doc.Event.Data...), '}'))
}
