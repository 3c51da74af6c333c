package kubetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/thinktank/catobot/internal/kubetest"
)

// TestStart checks the control plane end to end: the kubeconfig file works and the
// controller-manager turns a Deployment into a ReplicaSet.
func TestStart(t *testing.T) {
	c := kubetest.Start(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	require.NoError(t, err)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "kubetest"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	labels := map[string]string{"app": "web"}
	one := int32(1)
	_, err = client.AppsV1().Deployments("kubetest").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		rss, err := client.AppsV1().ReplicaSets("kubetest").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		return err == nil && len(rss.Items) == 1, nil
	})
	require.NoError(t, err, "the controller-manager made no ReplicaSet")
}

func TestAvailableNamesMissingBinaries(t *testing.T) {
	t.Setenv("CATOBOT_TOOLS_DIR", t.TempDir())
	require.Equal(t, kubetest.Binaries, kubetest.Available())
	require.Contains(t, kubetest.BinDir(), "kube-"+kubetest.Version)
}
