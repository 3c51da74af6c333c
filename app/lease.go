package app

import (
	"log/slog"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/thinktank/catobot/lease"
	"github.com/thinktank/catobot/ledger"
)

// newElector chooses the lease that decides which replica does the work
// only one may do (polling PagerDuty, adopting orphaned steps): a
// Kubernetes Lease inside a cluster, a Valkey key when the ledger is in
// Valkey, or none with a single process.
func newElector(cfg lease.Config, store ledger.Store, holder string, log *slog.Logger) (lease.Elector, error) {
	opts := lease.Options{Name: cfg.Name, HolderID: holder, TTL: cfg.TTL, Namespace: cfg.Namespace, Logger: log}
	backend := cfg.Backend
	if backend == lease.BackendAuto {
		switch _, isRedis := store.(*ledger.Redis); {
		case os.Getenv("KUBERNETES_SERVICE_HOST") != "":
			backend = lease.BackendKubernetes
		case isRedis:
			backend = lease.BackendRedis
		default:
			backend = lease.BackendSingle
		}
	}
	switch backend {
	case lease.BackendKubernetes:
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, err
		}
		kc, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, err
		}
		if opts.Namespace == "" {
			opts.Namespace = podNamespace()
		}
		return lease.Kubernetes(kc, opts)
	case lease.BackendRedis:
		r, ok := store.(*ledger.Redis)
		if !ok {
			return nil, errLeaseNeedsRedis
		}
		return lease.Redis(r.Client(), opts)
	}
	return lease.Single(), nil
}

var errLeaseNeedsRedis = leaseError("lease.backend: redis needs ledger.url to name a valkey:// or redis:// server")

type leaseError string

func (e leaseError) Error() string { return string(e) }

// podNamespace reads the service account's namespace, or "cato".
func podNamespace() string {
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil || len(b) == 0 {
		return "cato"
	}
	return string(b)
}
