package kubefake_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/thinktank/catobot/fakes/kubefake"
)

const ns, name = "cato", "cato-orchestrator"

func newClient(t *testing.T, opts kubefake.Options) (*kubefake.Server, kubernetes.Interface) {
	t.Helper()
	s := kubefake.New(opts)
	t.Cleanup(s.Close)
	c, err := kubernetes.NewForConfig(s.RESTConfig())
	require.NoError(t, err)
	return s, c
}

func TestScaleClimbsToReady(t *testing.T) {
	ctx := context.Background()
	s, c := newClient(t, kubefake.Options{Token: "test-token", ReadyTicks: 3})
	s.SetDeployment(ns, name, 10, 10)

	sc, err := c.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(10), sc.Spec.Replicas)
	require.Equal(t, "app=cato-orchestrator", sc.Status.Selector)

	sc.Spec.Replicas = 40
	_, err = c.AppsV1().Deployments(ns).UpdateScale(ctx, name, sc, metav1.UpdateOptions{})
	require.NoError(t, err)

	var ready []int32
	for range 4 {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		ready = append(ready, d.Status.ReadyReplicas)
	}
	require.Equal(t, []int32{20, 30, 40, 40}, ready)

	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	require.NoError(t, err)
	require.Len(t, pods.Items, 40)
	require.Equal(t, 1, s.Count("update", kubefake.Scale))
}

func TestStaleScaleConflicts(t *testing.T) {
	ctx := context.Background()
	s, c := newClient(t, kubefake.Options{})
	s.SetDeployment(ns, name, 10, 10)

	sc, err := c.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	s.SetDeployment(ns, name, 12, 12)
	sc.Spec.Replicas = 20
	_, err = c.AppsV1().Deployments(ns).UpdateScale(ctx, name, sc, metav1.UpdateOptions{})
	require.True(t, apierrors.IsConflict(err), "got %v", err)
}

func TestHPAMergePatch(t *testing.T) {
	ctx := context.Background()
	s, c := newClient(t, kubefake.Options{})
	s.SetDeployment(ns, name, 10, 10)
	s.SetHPA(ns, name+"-hpa", 5, 50)

	h, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Patch(ctx, name+"-hpa",
		types.MergePatchType, []byte(`{"spec":{"maxReplicas":200}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(200), h.Spec.MaxReplicas)
	require.Equal(t, int32(5), *h.Spec.MinReplicas)
	require.Equal(t, int32(10), h.Status.DesiredReplicas)

	_, err = c.AutoscalingV2().HorizontalPodAutoscalers(ns).Patch(ctx, name+"-hpa",
		types.MergePatchType, []byte(`{"spec":{"maxReplicas":2}}`), metav1.PatchOptions{})
	require.True(t, apierrors.IsInvalid(err), "got %v", err)

	calls := s.Mutations()
	require.Len(t, calls, 2)
	require.Equal(t, "application/merge-patch+json", calls[0].ContentType)
	require.JSONEq(t, `{"spec":{"maxReplicas":200}}`, string(calls[0].Body))
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		code  int
		check func(error) bool
	}{
		{name: "forbidden", code: 403, check: apierrors.IsForbidden},
		{name: "conflict", code: 409, check: apierrors.IsConflict},
		{name: "unavailable", code: 503, check: apierrors.IsServiceUnavailable},
		{name: "timeout", code: 504, check: apierrors.IsTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, c := newClient(t, kubefake.Options{})
			s.SetDeployment(ns, name, 10, 10)
			s.Fail(kubefake.Fault{Verb: "get", Resource: kubefake.Scale, Code: tt.code})

			_, err := c.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
			require.True(t, tt.check(err), "got %v", err)
			_, err = c.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
		})
	}
}

func TestRevisions(t *testing.T) {
	ctx := context.Background()
	s, c := newClient(t, kubefake.Options{})
	s.SetDeployment(ns, name, 3, 3)
	require.True(t, s.SetImage(ns, name, "cato/orchestrator:2.0"))

	d, ok := s.Deployment(ns, name)
	require.True(t, ok)
	require.Equal(t, "2", d.Annotations[kubefake.RevisionAnnotation])
	rss, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	require.NoError(t, err)
	require.Len(t, rss.Items, 2)

	// Going back to the first template reuses its ReplicaSet as revision 3.
	d.Spec.Template.Spec.Containers[0].Image = "cato/" + name + ":1.0"
	_, err = c.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	d, _ = s.Deployment(ns, name)
	require.Equal(t, "3", d.Annotations[kubefake.RevisionAnnotation])
	require.Len(t, s.ReplicaSetsOf(ns), 2)
}

func TestLeases(t *testing.T) {
	ctx := context.Background()
	_, c := newClient(t, kubefake.Options{})
	leases := c.CoordinationV1().Leases(ns)
	holder := "a"
	l, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "catobot"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "catobot"}},
		metav1.CreateOptions{})
	require.True(t, apierrors.IsAlreadyExists(err), "got %v", err)

	b := "b"
	l.Spec.HolderIdentity = &b
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	require.NoError(t, err)
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	require.True(t, apierrors.IsConflict(err), "got %v", err)
}

func TestKubeconfigAndToken(t *testing.T) {
	s := kubefake.New(kubefake.Options{Token: "test-token"})
	t.Cleanup(s.Close)
	s.SetDeployment(ns, name, 1, 1)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, s.WriteKubeconfig(path, ns))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	require.NoError(t, err)
	c, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	_, err = c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)

	cfg.BearerToken = "wrong"
	c, err = kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	_, err = c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.True(t, apierrors.IsUnauthorized(err), "got %v", err)
}
