package lease

import (
	"errors"
	"fmt"
	"time"
)

// Backends.
const (
	BackendAuto       = "auto"
	BackendSingle     = "single"
	BackendRedis      = "redis"
	BackendKubernetes = "kubernetes"
)

// Config chooses the lease for leader-only work.
type Config struct {
	// Backend is "auto" (a Kubernetes Lease when running in a cluster, else
	// a Redis key when the ledger is in Redis, else single), "single",
	// "redis" or "kubernetes".
	Backend string `yaml:"backend"`
	// Name names the lease (a Lease object, or a key after RedisKeyPrefix).
	Name string `yaml:"name"`
	// Namespace is the Lease's namespace; empty means the pod's own.
	Namespace string `yaml:"namespace"`
	// TTL is how long a dead leader's lease blocks the others.
	TTL time.Duration `yaml:"ttl"`
}

// DefaultConfig returns the default lease settings.
func DefaultConfig() Config {
	return Config{Backend: BackendAuto, Name: "catobot", TTL: 15 * time.Second}
}

// Validate checks c; its errors name the YAML keys under lease.
func (c Config) Validate() error {
	switch c.Backend {
	case BackendAuto, BackendSingle, BackendRedis, BackendKubernetes:
	default:
		return fmt.Errorf("lease.backend: %q is not auto, single, redis or kubernetes", c.Backend)
	}
	if c.Name == "" {
		return errors.New("lease.name: must not be empty")
	}
	if c.TTL < time.Second {
		return fmt.Errorf("lease.ttl: %s is under one second", c.TTL)
	}
	return nil
}
