package lease

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// KubernetesElector holds a coordination.k8s.io/v1 Lease through
// client-go's leader election. The lease lasts opts.TTL; the leader renews
// it every TTL/5 and steps down when it could not renew for TTL/2. When ctx
// ends, onStart is stopped before the Lease is released.
//
// The service account needs get, create and update on leases in the
// namespace.
type KubernetesElector struct {
	client kubernetes.Interface
	opts   Options
	leader atomic.Bool
}

var _ Elector = (*KubernetesElector)(nil)

// Kubernetes returns an Elector for the Lease opts.Name in opts.Namespace.
// opts.TTL must be at least one second, as a Lease counts whole seconds.
func Kubernetes(client kubernetes.Interface, opts Options) (*KubernetesElector, error) {
	opts, err := opts.check("kubernetes")
	if err != nil {
		return nil, err
	}
	if opts.Namespace == "" {
		return nil, errors.New("lease: kubernetes lease needs a namespace")
	}
	if opts.TTL < time.Second {
		return nil, fmt.Errorf("lease: kubernetes lease ttl %s is under one second", opts.TTL)
	}
	e := &KubernetesElector{client: client, opts: opts}
	if _, err := leaderelection.NewLeaderElector(e.config(&term{})); err != nil {
		return nil, fmt.Errorf("lease: kubernetes lease: %w", err)
	}
	return e, nil
}

// IsLeader implements Elector.
func (e *KubernetesElector) IsLeader() bool { return e.leader.Load() }

// Run implements Elector.
func (e *KubernetesElector) Run(
	ctx context.Context,
	onStart func(ctx context.Context),
	onStop func(),
) {
	for ctx.Err() == nil {
		t := &term{leader: &e.leader}
		cfg := e.config(t)
		cfg.Callbacks.OnStartedLeading = func(lctx context.Context) {
			e.opts.Logger.Info("lease acquired")
			t.start(lctx, onStart)
		}

		le, err := leaderelection.NewLeaderElector(cfg)
		if err != nil {
			// Kubernetes checked the same config.
			e.opts.Logger.Error("lease config refused", "err", err)
			return
		}
		le.Run(ctx)

		if t.stop() {
			e.opts.Logger.Info("lease released")
			if onStop != nil {
				onStop()
			}
		}
		if !sleep(ctx, cfg.RetryPeriod) {
			return
		}
	}
}

// config returns the leader election config for one term, whose Lock
// stops t before it releases the Lease.
func (e *KubernetesElector) config(t *term) leaderelection.LeaderElectionConfig {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: e.opts.Name, Namespace: e.opts.Namespace},
		Client:     e.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.opts.HolderID},
	}
	return leaderelection.LeaderElectionConfig{
		Lock:            &stopBeforeRelease{Interface: lock, stop: func() { t.stop() }},
		LeaseDuration:   e.opts.TTL,
		RenewDeadline:   e.opts.TTL / 2,
		RetryPeriod:     e.opts.TTL / 5,
		ReleaseOnCancel: true,
		Name:            e.opts.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {},
			OnStoppedLeading: func() { e.leader.Store(false) },
		},
	}
}

// stopBeforeRelease is a lock that stops the term's work before it writes
// the record that releases the Lease, so that no other replica starts while
// this one still works.
type stopBeforeRelease struct {
	resourcelock.Interface
	stop func()
}

// Update implements resourcelock.Interface.
func (l *stopBeforeRelease) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if r.HolderIdentity == "" {
		l.stop()
	}
	return l.Interface.Update(ctx, r)
}
