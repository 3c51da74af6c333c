package lease_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/thinktank/catobot/internal/redistest"
	"github.com/thinktank/catobot/lease"
)

// eventually is the generous deadline for waiting on a change of leader.
const eventually = 30 * time.Second

// work records the leader-only work of several electors.
type work struct {
	active   atomic.Int32
	overlaps atomic.Int32
	mu       sync.Mutex
	leader   string
	starts   map[string]int
	stops    map[string]int
}

func newWork() *work { return &work{starts: map[string]int{}, stops: map[string]int{}} }

// run runs e as id until ctx ends and returns a channel closed when Run
// returns.
func (w *work) run(ctx context.Context, e lease.Elector, id string) <-chan struct{} {
	done := make(chan struct{})
	onStart := func(ctx context.Context) {
		if w.active.Add(1) > 1 {
			w.overlaps.Add(1)
		}
		w.mu.Lock()
		w.leader = id
		w.starts[id]++
		w.mu.Unlock()

		<-ctx.Done()
		w.mu.Lock()
		if w.leader == id {
			w.leader = ""
		}
		w.mu.Unlock()
		w.active.Add(-1)
	}
	onStop := func() {
		w.mu.Lock()
		w.stops[id]++
		w.mu.Unlock()
	}
	go func() {
		defer close(done)
		e.Run(ctx, onStart, onStop)
	}()
	return done
}

func (w *work) current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leader
}

func (w *work) count(m map[string]int, id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return m[id]
}

func TestSingle(t *testing.T) {
	w := newWork()
	ctx, cancel := context.WithCancel(context.Background())
	e := lease.Single()
	done := w.run(ctx, e, "only")

	require.Eventually(t, func() bool { return w.current() == "only" }, eventually, time.Millisecond)
	require.True(t, e.IsLeader())
	cancel()
	<-done
	require.Equal(t, 1, w.count(w.stops, "only"), "stops")
	require.Zero(t, w.active.Load(), "work still running")
}

// electorCase makes electors that share one lease.
type electorCase struct {
	name string
	// setup returns a function making an elector for a holder, and a
	// function ending a holder without releasing its lease, or nil.
	setup func(t *testing.T) (mk func(holder string) lease.Elector, kill func(holder string))
}

func electorCases() []electorCase {
	return []electorCase{
		{name: "redis", setup: func(t *testing.T) (func(string) lease.Elector, func(string)) {
			u := redistest.Start(t)
			name := redistest.Prefix(t) + "poller"
			clients := map[string]*redis.Client{}
			var mu sync.Mutex
			mk := func(holder string) lease.Elector {
				opts, err := redis.ParseURL(u)
				require.NoError(t, err)
				c := redis.NewClient(opts)
				t.Cleanup(func() { c.Close() })
				mu.Lock()
				clients[holder] = c
				mu.Unlock()
				e, err := lease.Redis(c, lease.Options{Name: name, HolderID: holder, TTL: time.Second})
				require.NoError(t, err)
				return e
			}
			// Closing the client stops renewals and the release, as a
			// kill -9 or a lost network would.
			kill := func(holder string) {
				mu.Lock()
				defer mu.Unlock()
				require.NoError(t, clients[holder].Close())
			}
			return mk, kill
		}},
		{name: "kubernetes", setup: func(t *testing.T) (func(string) lease.Elector, func(string)) {
			client := fake.NewClientset()
			mk := func(holder string) lease.Elector {
				e, err := lease.Kubernetes(client, lease.Options{
					Name: "catobot-poller", Namespace: "cato", HolderID: holder, TTL: 2 * time.Second,
				})
				require.NoError(t, err)
				return e
			}
			return mk, nil
		}},
	}
}

func TestElectorTakeOverOnCancel(t *testing.T) {
	for _, tc := range electorCases() {
		t.Run(tc.name, func(t *testing.T) {
			mk, _ := tc.setup(t)
			w := newWork()
			electors := map[string]lease.Elector{"a": mk("a"), "b": mk("b")}
			cancels := map[string]context.CancelFunc{}
			dones := map[string]<-chan struct{}{}
			for id, e := range electors {
				ctx, cancel := context.WithCancel(context.Background())
				cancels[id] = cancel
				dones[id] = w.run(ctx, e, id)
				t.Cleanup(func() { cancel(); <-dones[id] })
			}

			require.Eventually(t, func() bool { return w.current() != "" }, eventually, 10*time.Millisecond)
			first := w.current()
			other := map[string]string{"a": "b", "b": "a"}[first]
			require.True(t, electors[first].IsLeader())
			require.False(t, electors[other].IsLeader())

			cancels[first]()
			<-dones[first]
			require.False(t, electors[first].IsLeader())
			require.Equal(t, 1, w.count(w.stops, first), "stops of the first leader")

			require.Eventually(t, func() bool { return w.current() == other }, eventually, 10*time.Millisecond)
			require.True(t, electors[other].IsLeader())
			require.Zero(t, w.overlaps.Load(), "two leaders worked at once")
			require.Equal(t, 1, w.count(w.starts, first), "starts of the first leader")
		})
	}
}

func TestRedisTakeOverOnExpiry(t *testing.T) {
	mk, kill := electorCases()[0].setup(t)
	w := newWork()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a := mk("a")
	doneA := w.run(ctx, a, "a")
	require.Eventually(t, a.IsLeader, eventually, 10*time.Millisecond)
	b := mk("b")
	doneB := w.run(ctx, b, "b")

	kill("a")
	require.Eventually(t, func() bool { return !a.IsLeader() }, eventually, 10*time.Millisecond)
	require.Eventually(t, b.IsLeader, eventually, 10*time.Millisecond)
	require.Eventually(t, func() bool { return w.current() == "b" }, eventually, 10*time.Millisecond)
	require.Equal(t, 1, w.count(w.stops, "a"), "stops of a")

	cancel()
	<-doneA
	<-doneB
}

func TestRedisSameHolderKeepsLease(t *testing.T) {
	u := redistest.Start(t)
	opts, err := redis.ParseURL(u)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()

	// A lease left by this holder before a restart is taken back at once.
	name := redistest.Prefix(t) + "poller"
	key := lease.RedisKeyPrefix + name
	require.NoError(t, c.Set(ctx, key, "pod-1", time.Hour).Err())
	e, err := lease.Redis(c, lease.Options{Name: name, HolderID: "pod-1", TTL: time.Second})
	require.NoError(t, err)

	w := newWork()
	rctx, cancel := context.WithCancel(ctx)
	done := w.run(rctx, e, "pod-1")
	require.Eventually(t, e.IsLeader, eventually, 10*time.Millisecond)
	ttl, err := c.PTTL(ctx, key).Result()
	require.NoError(t, err)
	require.LessOrEqual(t, ttl, time.Second, "renewed with the elector's ttl")

	cancel()
	<-done
	require.ErrorIs(t, c.Get(ctx, key).Err(), redis.Nil, "released on stop")
}

func TestKubernetesLeaseObject(t *testing.T) {
	client := fake.NewClientset()
	e, err := lease.Kubernetes(client, lease.Options{
		Name: "catobot", Namespace: "cato", HolderID: "pod-1", TTL: 2 * time.Second,
	})
	require.NoError(t, err)

	w := newWork()
	ctx, cancel := context.WithCancel(context.Background())
	done := w.run(ctx, e, "pod-1")
	require.Eventually(t, e.IsLeader, eventually, 10*time.Millisecond)

	l, err := client.CoordinationV1().Leases("cato").Get(context.Background(), "catobot", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "pod-1", *l.Spec.HolderIdentity)

	cancel()
	<-done
	l, err = client.CoordinationV1().Leases("cato").Get(context.Background(), "catobot", metav1.GetOptions{})
	require.NoError(t, err)
	require.Empty(t, l.Spec.HolderIdentity, "released on stop")
}

func TestOptionsRefused(t *testing.T) {
	tests := []struct {
		name    string
		opts    lease.Options
		wantErr string
	}{
		{
			name:    "no name",
			opts:    lease.Options{HolderID: "a", TTL: time.Second, Namespace: "n"},
			wantErr: "lease: %s lease needs a name",
		},
		{
			name:    "no holder",
			opts:    lease.Options{Name: "a", TTL: time.Second, Namespace: "n"},
			wantErr: "lease: %s lease needs a holder id",
		},
		{
			name:    "no ttl",
			opts:    lease.Options{Name: "a", HolderID: "a", Namespace: "n"},
			wantErr: "lease: %s lease needs a ttl",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lease.Redis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), tc.opts)
			require.EqualError(t, err, sprintf(tc.wantErr, "redis"))
			_, err = lease.Kubernetes(fake.NewClientset(), tc.opts)
			require.EqualError(t, err, sprintf(tc.wantErr, "kubernetes"))
		})
	}

	_, err := lease.Kubernetes(fake.NewClientset(), lease.Options{Name: "a", HolderID: "a", TTL: time.Second})
	require.EqualError(t, err, "lease: kubernetes lease needs a namespace")
	_, err = lease.Kubernetes(fake.NewClientset(), lease.Options{
		Name: "a", HolderID: "a", TTL: time.Millisecond * 500, Namespace: "n",
	})
	require.EqualError(t, err, "lease: kubernetes lease ttl 500ms is under one second")
}

func sprintf(format, kind string) string { return fmt.Sprintf(format, kind) }
