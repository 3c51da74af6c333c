package rayserve

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/internal/kubetest"
)

// TestRealAPIServer runs the action against a real kube-apiserver and
// kube-controller-manager, each subtest in its own namespace. No kubelet runs, so pods never
// become ready: rollouts are checked through specs, ReplicaSets and revisions, and following
// them ends at the wait timeout with a "still progressing" result.
func TestRealAPIServer(t *testing.T) {
	cluster := kubetest.Start(t)
	client, err := kubernetes.NewForConfig(cluster.Config)
	require.NoError(t, err)

	t.Run("scale through the scale subresource", func(t *testing.T) {
		ctx, act := realSetup(t, client, "ray-scale", 2, 5)

		p, err := act.Plan(ctx, req(actions.VerbScale, "4"))
		require.NoError(t, err)
		require.Equal(t, "Ray Serve: 2 → 4 replicas", p.Summary)
		require.Empty(t, p.Warnings)

		var rec recorder
		res, err := act.Run(ctx, p, rec.progress)
		require.NoError(t, err)
		require.Contains(t, res.Summary, "is still progressing after 1s")
		require.Contains(t, rec.all(), "Ray Serve: 0/4 replicas ready")
		d, err := client.AppsV1().Deployments("ray-scale").Get(ctx, dep, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(4), *d.Spec.Replicas)
		waitFor(t, ctx, "the ReplicaSet to want 4 replicas", func() bool {
			rss := ownedReplicaSets(t, ctx, client, d)
			return len(rss) == 1 && *rss[0].Spec.Replicas == 4
		})

		// Above the HPA's max: the plan raises it in the same step, before the scale.
		p, err = act.Plan(ctx, req(actions.VerbScale, "8"))
		require.NoError(t, err)
		require.Equal(t, []string{"the HPA cato-orchestrator-hpa allows at most 5 replicas and will scale " +
			"back to 5; confirming also raises its max to 8"}, p.Warnings)
		require.Len(t, p.Extra, 1)
		_, err = act.Run(ctx, p, nil)
		require.NoError(t, err)
		h, err := client.AutoscalingV2().HorizontalPodAutoscalers("ray-scale").Get(ctx, hpa, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(8), h.Spec.MaxReplicas)
		sc, err := client.AppsV1().Deployments("ray-scale").GetScale(ctx, dep, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(8), sc.Spec.Replicas)
	})

	t.Run("hpa merge patch", func(t *testing.T) {
		ctx, act := realSetup(t, client, "ray-hpa", 2, 5)

		p, err := act.Plan(ctx, req(actions.VerbHPA, "max=10", "min=2"))
		require.NoError(t, err)
		res, err := act.Run(ctx, p, nil)
		require.NoError(t, err)
		require.Equal(t, "HPA cato-orchestrator-hpa now allows 2–10 replicas", res.Summary)

		h, err := client.AutoscalingV2().HorizontalPodAutoscalers("ray-hpa").Get(ctx, hpa, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(10), h.Spec.MaxReplicas)
		require.Equal(t, int32(2), *h.Spec.MinReplicas)
		// A merge patch leaves the rest of the spec alone.
		require.Len(t, h.Spec.Metrics, 1)
		require.Equal(t, corev1.ResourceCPU, h.Spec.Metrics[0].Resource.Name)

		_, err = act.Plan(ctx, req(actions.VerbHPA, "min=20"))
		require.Equal(t, "min (20) must not be above max (10)", actions.Explain(err))
	})

	t.Run("rollback to the previous revision", func(t *testing.T) {
		ctx, act := realSetup(t, client, "ray-rollback", 1, 5)
		d := setImage(t, ctx, client, "ray-rollback", "cato/orchestrator:2.0", "2")

		p, err := act.Plan(ctx, req(actions.VerbRollback))
		require.NoError(t, err)
		require.Equal(t, "Ray Serve: roll cato-orchestrator back from revision 2 to revision 1", p.Summary)
		require.Equal(t, []actions.Change{
			{Field: "revision", From: "2", To: "1"},
			{Field: "image", From: "cato/orchestrator:2.0", To: "cato/orchestrator:1.0"},
		}, p.Changes)

		var rec recorder
		res, err := act.Run(ctx, p, rec.progress)
		require.NoError(t, err)
		require.Contains(t, res.Summary, "is still progressing")
		require.NotEmpty(t, rec.all())

		// The controller makes revision 1's ReplicaSet the newest again, as revision 3.
		waitFor(t, ctx, "revision 3", func() bool {
			got, err := client.AppsV1().Deployments("ray-rollback").Get(ctx, dep, metav1.GetOptions{})
			require.NoError(t, err)
			d = got
			return got.Annotations[RevisionAnnotation] == "3"
		})
		require.Equal(t, "cato/orchestrator:1.0", d.Spec.Template.Spec.Containers[0].Image)
		_, hashed := d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		require.False(t, hashed)
		rss := ownedReplicaSets(t, ctx, client, d)
		require.Len(t, rss, 2, "the old ReplicaSet is reused, not copied")
		for _, rs := range rss {
			if rs.Spec.Template.Spec.Containers[0].Image == "cato/orchestrator:1.0" {
				require.Equal(t, "3", rs.Annotations[RevisionAnnotation])
			}
		}

		// The next rollback goes back to 2.0, as kubectl rollout undo would.
		p, err = act.Plan(ctx, req(actions.VerbRollback))
		require.NoError(t, err)
		require.Equal(t, []actions.Change{
			{Field: "revision", From: "3", To: "2"},
			{Field: "image", From: "cato/orchestrator:1.0", To: "cato/orchestrator:2.0"},
		}, p.Changes)
	})

	t.Run("paused deployment refused", func(t *testing.T) {
		ctx, act := realSetup(t, client, "ray-paused", 1, 5)
		setImage(t, ctx, client, "ray-paused", "cato/orchestrator:2.0", "2")
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := client.AppsV1().Deployments("ray-paused").Get(ctx, dep, metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Spec.Paused = true
			_, err = client.AppsV1().Deployments("ray-paused").Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		require.NoError(t, err)

		_, err = act.Plan(ctx, req(actions.VerbRollback))
		require.Equal(t, actions.KindRefused, actions.KindOf(err))
		require.Equal(t, "deployment ray-paused/cato-orchestrator is paused, and a paused deployment cannot be "+
			"rolled back; resume it first (kubectl rollout resume deployment/cato-orchestrator -n ray-paused) "+
			"and try again", actions.Explain(err))
		after, err := client.AppsV1().Deployments("ray-paused").Get(ctx, dep, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, "cato/orchestrator:2.0", after.Spec.Template.Spec.Containers[0].Image)
	})

	t.Run("no earlier revision refused", func(t *testing.T) {
		ctx, act := realSetup(t, client, "ray-norev", 1, 5)
		_, err := act.Plan(ctx, req(actions.VerbRollback))
		require.Equal(t, actions.KindRefused, actions.KindOf(err))
		require.Equal(t, "deployment ray-norev/cato-orchestrator has no earlier revision to roll back to "+
			"(current revision: 1); nothing changes", actions.Explain(err))
	})

	t.Run("missing deployment", func(t *testing.T) {
		ctx := context.Background()
		cfg := testConfig()
		cfg.Namespace = "ray-missing"
		act, err := New(cfg, client, Options{})
		require.NoError(t, err)
		_, err = act.Plan(ctx, req(actions.VerbScale, "3"))
		require.Equal(t, actions.KindNotFound, actions.KindOf(err))
		require.Equal(t, "deployment ray-missing/cato-orchestrator was not found in the cluster", actions.Explain(err))
	})
}

// realSetup creates namespace ns with the cato-orchestrator Deployment (image
// cato/orchestrator:1.0) at replicas and its HPA at 1–hpaMax, waits for revision 1, and
// returns an action on it whose wait timeout is one second.
func realSetup(t *testing.T, client kubernetes.Interface, ns string, replicas, hpaMax int32) (context.Context, *Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	labels := map[string]string{"app": dep}
	_, err = client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: dep, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "orchestrator", Image: "cato/orchestrator:1.0",
				}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	one, utilization := int32(1), int32(80)
	_, err = client.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: hpa},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: dep},
			MinReplicas:    &one,
			MaxReplicas:    hpaMax,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &utilization},
				},
			}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	waitRevision(t, ctx, client, ns, "1")

	cfg := testConfig()
	cfg.Namespace = ns
	cfg.WaitTimeout = time.Second
	cfg.PollInterval = 50 * time.Millisecond
	act, err := New(cfg, client, Options{})
	require.NoError(t, err)
	return ctx, act
}

// setImage changes the Deployment's image and waits for the controller to record rev.
func setImage(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, image, rev string) *appsv1.Deployment {
	t.Helper()
	// The controller writes the Deployment too; retry on its conflicts.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := client.AppsV1().Deployments(ns).Get(ctx, dep, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = image
		_, err = client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	require.NoError(t, err)
	return waitRevision(t, ctx, client, ns, rev)
}

func waitRevision(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, rev string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	waitFor(t, ctx, "revision "+rev, func() bool {
		got, err := client.AppsV1().Deployments(ns).Get(ctx, dep, metav1.GetOptions{})
		require.NoError(t, err)
		d = got
		return got.Annotations[RevisionAnnotation] == rev && len(ownedReplicaSets(t, ctx, client, got)) > 0
	})
	return d
}

func ownedReplicaSets(t *testing.T, ctx context.Context, client kubernetes.Interface, d *appsv1.Deployment) []appsv1.ReplicaSet {
	t.Helper()
	list, err := client.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + dep})
	require.NoError(t, err)
	var out []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if metav1.IsControlledBy(&rs, d) {
			out = append(out, rs)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing t when ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	require.NoError(t, err, "waiting for %s", what)
}
