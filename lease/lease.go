// Package lease elects one leader among catobot's replicas for work that
// only one of them may do, such as polling PagerDuty and following
// executions that are still running.
//
// Single suits one process. With several replicas, Kubernetes uses a
// coordination.k8s.io Lease through client-go's leader election, and Redis
// uses a key in the Valkey or Redis server that holds the ledger.
package lease

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Elector campaigns for leadership.
type Elector interface {
	// Run campaigns until ctx ends. Each time the process becomes leader,
	// Run calls onStart in a new goroutine with a context that ends when
	// the leadership does; then it waits for onStart to return and calls
	// onStop, which may be nil. Run returns once ctx has ended, onStart has
	// returned and the lease has been released.
	Run(ctx context.Context, onStart func(ctx context.Context), onStop func())
	// IsLeader reports whether this process leads now.
	IsLeader() bool
}

// Options describe a lease shared by the replicas.
type Options struct {
	// Name names the lease; every replica uses the same name.
	Name string
	// HolderID names this replica, uniquely (the pod name, or host and pid).
	HolderID string
	// TTL is how long the lease lasts without renewal: how long the others
	// wait when a leader dies without releasing it.
	TTL time.Duration
	// Namespace is the Kubernetes namespace of the Lease object.
	Namespace string
	// Logger receives changes of leadership; nil discards them.
	Logger *slog.Logger
}

func (o Options) check(kind string) (Options, error) {
	switch {
	case o.Name == "":
		return o, errors.New("lease: " + kind + " lease needs a name")
	case o.HolderID == "":
		return o, errors.New("lease: " + kind + " lease needs a holder id")
	case o.TTL < 3*time.Millisecond:
		return o, errors.New("lease: " + kind + " lease needs a ttl")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("lease", o.Name, "holder_id", o.HolderID)
	return o, nil
}

// Single returns an Elector for one process, which always leads.
func Single() Elector { return single{} }

type single struct{}

func (single) IsLeader() bool { return true }

func (single) Run(ctx context.Context, onStart func(ctx context.Context), onStop func()) {
	var t term
	t.start(ctx, onStart)
	<-ctx.Done()
	t.stop()
	if onStop != nil {
		onStop()
	}
}

// term is one period of leadership: it runs onStart and can stop it once.
type term struct {
	mu      sync.Mutex
	leader  *atomic.Bool
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// start runs onStart in a new goroutine unless the term is already closed.
func (t *term) start(ctx context.Context, onStart func(ctx context.Context)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	ctx, t.cancel = context.WithCancel(ctx)
	t.started = true
	t.done = make(chan struct{})
	if t.leader != nil {
		t.leader.Store(true)
	}
	go func() {
		defer close(t.done)
		onStart(ctx)
	}()
}

// stop closes the term, cancels onStart's context and waits for it to
// return. It reports whether the term had started.
func (t *term) stop() bool {
	t.mu.Lock()
	t.closed = true
	if t.leader != nil {
		t.leader.Store(false)
	}
	started, cancel, done := t.started, t.cancel, t.done
	t.mu.Unlock()

	if !started {
		return false
	}
	cancel()
	<-done
	return true
}

// sleep waits for d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
