// Package rayserve reads and changes the Ray Serve deployment on Kubernetes: its replica
// count through the scale subresource, the bounds of its HorizontalPodAutoscaler, and a
// rollback to the previous revision's pod template, as `kubectl rollout undo` does. It uses
// client-go only.
package rayserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	autoscalingv2client "k8s.io/client-go/kubernetes/typed/autoscaling/v2"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/thinktank/catobot/actions"
)

// Title is the component's name in messages.
const Title = "Ray Serve"

// RevisionAnnotation is where the deployment controller records a Deployment's and a
// ReplicaSet's revision.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// Plan parameters, as recorded in actions.Plan.Params.
const (
	ParamReplicas     = "replicas"
	ParamHPAMax       = "hpa_max"
	ParamHPAMin       = "hpa_min"
	ParamFromRevision = "from_revision"
	ParamToRevision   = "to_revision"
	ParamReplicaSet   = "replicaset"
)

// Client is the part of kubernetes.Interface the action uses.
type Client interface {
	AppsV1() appsv1client.AppsV1Interface
	AutoscalingV2() autoscalingv2client.AutoscalingV2Interface
	CoreV1() corev1client.CoreV1Interface
}

var _ Client = kubernetes.Interface(nil)

// Options are the action's process settings.
type Options struct {
	// DryRun makes Run call nothing that changes the cluster and say what it would have
	// called instead.
	DryRun bool
	// Logger receives debug and warning lines; nil discards them.
	Logger *slog.Logger
}

// Action reads and changes the Ray Serve Deployment and its HPA. It implements
// actions.Action and actions.Follower.
type Action struct {
	cfg    Config
	client Client
	dryRun bool
	log    *slog.Logger
}

var (
	_ actions.Action   = (*Action)(nil)
	_ actions.Follower = (*Action)(nil)
)

// New returns the action for cfg, talking to the cluster through client.
func New(cfg Config, client Client, opts Options) (*Action, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rayserve config: %w", err)
	}
	if client == nil {
		return nil, errors.New("rayserve: no client")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", actions.Ray, "namespace", cfg.Namespace, "deployment", cfg.Deployment)
	return &Action{cfg: cfg, client: client, dryRun: opts.DryRun, log: log}, nil
}

func (a *Action) deployments() appsv1client.DeploymentInterface {
	return a.client.AppsV1().Deployments(a.cfg.Namespace)
}

func (a *Action) hpas() autoscalingv2client.HorizontalPodAutoscalerInterface {
	return a.client.AutoscalingV2().HorizontalPodAutoscalers(a.cfg.Namespace)
}

// Status reads the Deployment, its HPA and its pods.
func (a *Action) Status(ctx context.Context) (actions.Status, error) {
	d, err := a.deployments().Get(ctx, a.cfg.Deployment, metav1.GetOptions{})
	if err != nil {
		return actions.Status{}, a.apiErr(err, "get", "deployments", a.cfg.Deployment)
	}
	st := actions.Status{
		Component: actions.Ray,
		Title:     Title,
		Target:    a.cfg.target(),
		State:     rolloutState(d),
		Fields:    deploymentFields(d),
	}

	h, err := a.getHPA(ctx)
	if err != nil {
		// The Deployment's state is still worth showing.
		a.log.Warn("read hpa failed", "hpa", a.cfg.HPA, "err", err)
		st.Fields = append(st.Fields, actions.Field{Name: "hpa", Value: "unreadable: " + actions.Explain(err)})
	} else {
		st.Fields = append(st.Fields, hpaFields(a.cfg.HPA, h)...)
	}

	if f, ok := a.podsField(ctx); ok {
		st.Fields = append(st.Fields, f)
	}
	return st, nil
}

// Plan works out a scale, hpa or rollback step from the live state.
func (a *Action) Plan(ctx context.Context, req actions.Request) (actions.Plan, error) {
	switch req.Verb {
	case actions.VerbScale:
		return a.planScale(ctx, req.Args)
	case actions.VerbHPA:
		return a.planHPA(ctx, req.Args)
	case actions.VerbRollback:
		return a.planRollback(ctx, req.Args)
	}
	return actions.Plan{}, actions.Usagef("%s supports scale, hpa and rollback, not %q", actions.Ray, req.Verb)
}

// Run carries out p and, for scale and rollback, follows the rollout until every replica
// is ready or the wait timeout passes.
func (a *Action) Run(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	if err := a.checkPlan(p); err != nil {
		return actions.Result{}, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	switch p.Verb {
	case actions.VerbScale:
		return a.runScale(ctx, p, progress)
	case actions.VerbHPA:
		return a.runHPA(ctx, p)
	case actions.VerbRollback:
		return a.runRollback(ctx, p, progress)
	}
	return actions.Result{}, actions.Usagef("%s cannot run a %q step", actions.Ray, p.Verb)
}

// Follow waits for the rollout a scale or rollback step started, possibly in another
// process, to finish; for an hpa step it reads the HPA.
func (a *Action) Follow(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	if err := a.checkPlan(p); err != nil {
		return actions.Result{}, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	if p.Verb == actions.VerbHPA {
		h, err := a.hpas().Get(ctx, a.cfg.HPA, metav1.GetOptions{})
		if err != nil {
			return actions.Result{}, a.apiErr(err, "get", "horizontalpodautoscalers", a.cfg.HPA)
		}
		return hpaResult(a.cfg.HPA, h), nil
	}
	return a.follow(ctx, p, progress)
}

// checkPlan refuses a plan made for another component or object.
func (a *Action) checkPlan(p actions.Plan) error {
	if p.Component != actions.Ray {
		return actions.Usagef("this step is for %q, not %s", p.Component, actions.Ray)
	}
	want := a.cfg.target()
	if p.Verb == actions.VerbHPA {
		want = a.cfg.hpaTarget()
	}
	if p.Target != want {
		return actions.Usagef("this step is for %s, but the bot manages %s", p.Target, want)
	}
	return nil
}

// getHPA reads the configured HPA; it returns nil when none is configured or it does not
// exist.
func (a *Action) getHPA(ctx context.Context) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	if a.cfg.HPA == "" {
		return nil, nil
	}
	h, err := a.hpas().Get(ctx, a.cfg.HPA, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		a.log.Debug("hpa not found", "hpa", a.cfg.HPA)
		return nil, nil
	}
	if err != nil {
		return nil, a.apiErr(err, "get", "horizontalpodautoscalers", a.cfg.HPA)
	}
	return h, nil
}

// podsField counts the pods matching the selector by phase, as
// `kubectl get pods -l SELECTOR` shows them. A failure is logged and leaves the field out.
func (a *Action) podsField(ctx context.Context) (actions.Field, bool) {
	if a.cfg.Selector == "" {
		return actions.Field{}, false
	}
	pods, err := a.client.CoreV1().Pods(a.cfg.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: a.cfg.Selector,
	})
	if err != nil {
		a.log.Warn("list pods failed", "selector", a.cfg.Selector, "err", err)
		return actions.Field{}, false
	}
	counts := map[string]int{}
	var order []string
	for _, p := range pods.Items {
		phase := string(p.Status.Phase)
		if p.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		if counts[phase] == 0 {
			order = append(order, phase)
		}
		counts[phase]++
	}
	v := fmt.Sprintf("%d", len(pods.Items))
	for i, ph := range order {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		v += fmt.Sprintf("%s%d %s", sep, counts[ph], ph)
	}
	if len(order) > 0 {
		v += ")"
	}
	return actions.Field{Name: "pods", Value: v}, true
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// rolloutState names the Deployment's state in one word, as `kubectl rollout status`
// would judge it.
func rolloutState(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "ProgressDeadlineExceeded"
		}
	}
	switch {
	case d.Spec.Paused:
		return "Paused"
	case !rolledOut(d):
		return "Progressing"
	}
	return "Ready"
}

// rolledOut reports whether the Deployment's latest spec is fully rolled out and every
// replica is ready.
func rolledOut(d *appsv1.Deployment) bool {
	want := replicas(d)
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
		s.Replicas == want && s.AvailableReplicas == want && s.ReadyReplicas == want
}

func deploymentFields(d *appsv1.Deployment) []actions.Field {
	s := d.Status
	fs := []actions.Field{
		{Name: "desired replicas", Value: strconv.Itoa(int(replicas(d)))},
		{Name: "ready replicas", Value: strconv.Itoa(int(s.ReadyReplicas))},
		{Name: "updated replicas", Value: strconv.Itoa(int(s.UpdatedReplicas))},
		{Name: "available replicas", Value: strconv.Itoa(int(s.AvailableReplicas))},
		{Name: "revision", Value: d.Annotations[RevisionAnnotation]},
		{Name: "paused", Value: strconv.FormatBool(d.Spec.Paused)},
	}
	return fs
}

func hpaMin(h *autoscalingv2.HorizontalPodAutoscaler) int32 {
	if h.Spec.MinReplicas == nil {
		return 1
	}
	return *h.Spec.MinReplicas
}

func hpaFields(name string, h *autoscalingv2.HorizontalPodAutoscaler) []actions.Field {
	if name == "" {
		return nil
	}
	if h == nil {
		return []actions.Field{{Name: "hpa", Value: name + " not found"}}
	}
	return []actions.Field{
		{Name: "hpa min replicas", Value: strconv.Itoa(int(hpaMin(h)))},
		{Name: "hpa max replicas", Value: strconv.Itoa(int(h.Spec.MaxReplicas))},
		{Name: "hpa current replicas", Value: strconv.Itoa(int(h.Status.CurrentReplicas))},
		{Name: "hpa desired replicas", Value: strconv.Itoa(int(h.Status.DesiredReplicas))},
	}
}

func hpaResult(name string, h *autoscalingv2.HorizontalPodAutoscaler) actions.Result {
	return actions.Result{
		Summary: fmt.Sprintf("HPA %s now allows %d–%d replicas", name, hpaMin(h), h.Spec.MaxReplicas),
		Fields:  hpaFields(name, h),
	}
}

// follow polls the Deployment until its rollout is done, reporting ready replicas when
// they change. When the wait timeout passes first, the result says the rollout is still
// progressing; that is no error.
func (a *Action) follow(
	ctx context.Context,
	p actions.Plan,
	progress actions.Progress,
) (actions.Result, error) {
	wctx, cancel := context.WithTimeout(ctx, a.cfg.WaitTimeout)
	defer cancel()
	last := ""
	var d *appsv1.Deployment
	for {
		got, err := a.deployments().Get(wctx, a.cfg.Deployment, metav1.GetOptions{})
		switch {
		case err == nil:
			d = got
			line := progressLine(p, d)
			if line != last {
				progress(line)
				last = line
			}
			if rolledOut(d) {
				return a.doneResult(p, d), nil
			}
		case wctx.Err() != nil:
			// The wait ended during the call; handled below.
		default:
			mapped := a.apiErr(err, "get", "deployments", a.cfg.Deployment)
			if !actions.Retryable(mapped) {
				return actions.Result{}, mapped
			}
			a.log.Warn("read deployment failed while following", "err", err)
		}

		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return actions.Result{}, actions.Errorf(actions.KindUnavailable, ctx.Err(),
					"stopped following the rollout of %s before it finished", a.cfg.target())
			}
			return a.timeoutResult(d), nil
		case <-time.After(a.cfg.PollInterval):
		}
	}
}

func progressLine(p actions.Plan, d *appsv1.Deployment) string {
	want, s := replicas(d), d.Status
	if p.Verb == actions.VerbRollback {
		return fmt.Sprintf("%s: %d/%d replicas updated, %d/%d ready", Title,
			s.UpdatedReplicas, want, s.ReadyReplicas, want)
	}
	return fmt.Sprintf("%s: %d/%d replicas ready", Title, s.ReadyReplicas, want)
}

func (a *Action) doneResult(p actions.Plan, d *appsv1.Deployment) actions.Result {
	rev := d.Annotations[RevisionAnnotation]
	summary := fmt.Sprintf("%s now has %d/%d replicas ready", a.cfg.target(),
		d.Status.ReadyReplicas, replicas(d))
	if p.Verb == actions.VerbRollback {
		summary = fmt.Sprintf("%s is rolled back to the pod template of revision %s (now revision %s); "+
			"%d/%d replicas ready", a.cfg.target(), p.Params[ParamToRevision], rev,
			d.Status.ReadyReplicas, replicas(d))
	}
	if want := p.Params[ParamReplicas]; want != "" && want != strconv.Itoa(int(replicas(d))) {
		summary += fmt.Sprintf(" (asked for %s; the HPA or someone else changed it since)", want)
	}
	return actions.Result{Summary: summary, Fields: deploymentFields(d)}
}

func (a *Action) timeoutResult(d *appsv1.Deployment) actions.Result {
	if d == nil {
		return actions.Result{Summary: fmt.Sprintf("%s: could not read the rollout's progress within %s; "+
			"check it with /cato status %s", a.cfg.target(), a.cfg.WaitTimeout, actions.Ray)}
	}
	return actions.Result{
		Summary: fmt.Sprintf("%s is still progressing after %s: %d/%d replicas ready, %d updated; "+
			"check it with /cato status %s", a.cfg.target(), a.cfg.WaitTimeout, d.Status.ReadyReplicas,
			replicas(d), d.Status.UpdatedReplicas, actions.Ray),
		Fields: deploymentFields(d),
	}
}

// onConflict retries fn while it fails with a 409 Conflict, as client-go's retry helper
// does.
func onConflict(fn func() error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, fn)
}
