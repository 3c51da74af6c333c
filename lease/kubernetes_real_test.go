package lease_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/thinktank/catobot/internal/kubetest"
	"github.com/thinktank/catobot/lease"
)

// cutTransport fails every request once cut, as a killed process's
// connection would: no renewal and no release reach the API server.
type cutTransport struct {
	next http.RoundTripper
	cut  atomic.Bool
}

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		return nil, errors.New("process killed")
	}
	return c.next.RoundTrip(r)
}

// TestKubernetesTakeOverOnRealAPIServer runs two replicas' electors against
// a real kube-apiserver: one leads, and when it dies without releasing its
// Lease the other takes over once the Lease expires.
func TestKubernetesTakeOverOnRealAPIServer(t *testing.T) {
	cluster := kubetest.Start(t)
	cuts := map[string]*cutTransport{}
	mk := func(holder string) lease.Elector {
		cfg := rest.CopyConfig(cluster.Config)
		ct := &cutTransport{}
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { ct.next = rt; return ct })
		cuts[holder] = ct
		cs, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		e, err := lease.Kubernetes(cs, lease.Options{Name: "catobot", Namespace: "default", HolderID: holder, TTL: 2 * time.Second})
		require.NoError(t, err)
		return e
	}
	w := newWork()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a := mk("replica-a")
	doneA := w.run(ctx, a, "replica-a")
	require.Eventually(t, a.IsLeader, eventually, 10*time.Millisecond)
	b := mk("replica-b")
	doneB := w.run(ctx, b, "replica-b")
	require.Never(t, b.IsLeader, 3*time.Second, 100*time.Millisecond, "a second leader while the first renews")

	cuts["replica-a"].cut.Store(true)
	require.Eventually(t, func() bool { return !a.IsLeader() }, eventually, 10*time.Millisecond)
	require.Eventually(t, b.IsLeader, eventually, 10*time.Millisecond)
	require.Eventually(t, func() bool { return w.current() == "replica-b" }, eventually, 10*time.Millisecond)
	require.Zero(t, w.overlaps.Load(), "two leaders worked at once")

	cancel()
	<-doneA
	<-doneB
}
