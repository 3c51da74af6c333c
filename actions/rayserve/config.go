package rayserve

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/thinktank/catobot/actions"
)

// Config names the Ray Serve Deployment and HPA the bot may read and change.
type Config struct {
	// Namespace, Deployment and HPA name the Kubernetes objects.
	Namespace  string `yaml:"namespace"`
	Deployment string `yaml:"deployment"`
	HPA        string `yaml:"hpa"`
	// Selector is the label selector of the Deployment's pods, for status.
	Selector string `yaml:"selector"`
	// Limits bound the replica count a scale step, and the HPA bounds an hpa step, may set.
	Limits actions.Limits `yaml:"limits"`
	// WaitTimeout bounds how long a step follows a rollout before it reports it as still
	// progressing.
	WaitTimeout time.Duration `yaml:"wait_timeout"`
	// PollInterval is the delay between reads of the Deployment while following a rollout.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Runbook values.
const (
	defaultWaitTimeout  = 10 * time.Minute
	defaultPollInterval = 5 * time.Second
	defaultCooldown     = 5 * time.Minute
)

// DefaultConfig returns the runbook's Ray Serve deployment: cato/cato-orchestrator, pods
// labelled app=cato-orchestrator, HPA cato-orchestrator-hpa, 1–200 replicas.
func DefaultConfig() Config {
	return Config{
		Namespace:  "cato",
		Deployment: "cato-orchestrator",
		HPA:        "cato-orchestrator-hpa",
		Selector:   "app=cato-orchestrator",
		Limits: actions.Limits{
			Min:      1,
			Max:      200,
			Cooldown: defaultCooldown,
		}.WithDefaults(),
		WaitTimeout:  defaultWaitTimeout,
		PollInterval: defaultPollInterval,
	}
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct{ key, value string }{
		{"namespace", c.Namespace},
		{"deployment", c.Deployment},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s must not be empty", f.key))
			continue
		}
		if msgs := validation.IsDNS1123Subdomain(f.value); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s %q is not a valid Kubernetes name: %s", f.key, f.value, msgs[0]))
		}
	}
	if c.HPA != "" {
		if msgs := validation.IsDNS1123Subdomain(c.HPA); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("hpa %q is not a valid Kubernetes name: %s", c.HPA, msgs[0]))
		}
	}
	if _, err := labels.Parse(c.Selector); err != nil {
		errs = append(errs, fmt.Errorf("selector %q: %w", c.Selector, err))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("limits: %w", err))
	} else if c.Limits.Max < 1 {
		errs = append(errs, fmt.Errorf("limits: max must be at least 1, got %d", c.Limits.Max))
	}
	if c.WaitTimeout <= 0 {
		errs = append(errs, fmt.Errorf("wait_timeout must be positive, got %s", c.WaitTimeout))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll_interval must be positive, got %s", c.PollInterval))
	}
	return errors.Join(errs...)
}

// target returns "namespace/deployment".
func (c Config) target() string { return c.Namespace + "/" + c.Deployment }

// hpaTarget returns "namespace/hpa".
func (c Config) hpaTarget() string { return c.Namespace + "/" + c.HPA }
