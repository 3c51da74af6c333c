package kubefake_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/thinktank/catobot/fakes/kubefake"
)

// TestLeaderElection runs client-go's leader election on the fake's Leases: the first
// candidate leads, and when it steps down the second takes over.
func TestLeaderElection(t *testing.T) {
	s := kubefake.New(kubefake.Options{})
	t.Cleanup(s.Close)

	elect := func(ctx context.Context, id string, led chan<- string) {
		c, err := kubernetes.NewForConfig(s.RESTConfig())
		require.NoError(t, err)
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: "catobot"},
			Client:     c.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		}
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   time.Second,
			RenewDeadline:   500 * time.Millisecond,
			RetryPeriod:     100 * time.Millisecond,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) { led <- id },
				OnStoppedLeading: func() {},
			},
		})
	}

	led := make(chan string, 2)
	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { defer close(doneA); elect(ctxA, "a", led) }()
	require.Equal(t, "a", <-led)

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneB := make(chan struct{})
	go func() { defer close(doneB); elect(ctxB, "b", led) }()

	stopA()
	<-doneA
	require.Equal(t, "b", <-led)
	l, ok := s.Lease(ns, "catobot")
	require.True(t, ok)
	require.Equal(t, "b", *l.Spec.HolderIdentity)
	stopB()
	<-doneB
}
