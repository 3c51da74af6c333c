package elasticache

import (
	"errors"
	"fmt"
	"time"

	"github.com/thinktank/catobot/actions"
)

// MaxReplicas is ElastiCache's limit on read replicas per node group.
// https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.html
const MaxReplicas = 5

// Config is the cache component's settings.
type Config struct {
	// ReplicationGroupID names the replication group to read and change.
	ReplicationGroupID string `yaml:"replication_group_id"`
	// Replicas bounds the read replicas per node group that
	// `replicas cache N` may set; Max is at most MaxReplicas.
	Replicas actions.Limits `yaml:"replicas"`
	// CheckAllowedNodeTypes makes Plan ask ListAllowedNodeTypeModifications
	// and refuse a node type the group cannot move to.
	CheckAllowedNodeTypes bool `yaml:"check_allowed_node_types"`
	// WaitTimeout bounds how long a step follows a change to available.
	WaitTimeout time.Duration `yaml:"wait_timeout"`
	// PollInterval and MaxPollInterval bound the delay between
	// DescribeReplicationGroups calls while following a change; the SDK's
	// waiter backs off from the first towards the second.
	PollInterval    time.Duration `yaml:"poll_interval"`
	MaxPollInterval time.Duration `yaml:"max_poll_interval"`
}

// DefaultConfig returns the runbook's settings: cato-cache-production, up to
// five replicas per node group, allowed node types checked. A node type
// change takes tens of minutes, so it is followed for up to an hour.
func DefaultConfig() Config {
	return Config{
		ReplicationGroupID:    "cato-cache-production",
		Replicas:              actions.Limits{Min: 0, Max: MaxReplicas},
		CheckAllowedNodeTypes: true,
		WaitTimeout:           time.Hour,
		PollInterval:          15 * time.Second,
		MaxPollInterval:       2 * time.Minute,
	}
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	var errs []error
	if c.ReplicationGroupID == "" {
		errs = append(errs, errors.New("replication_group_id must not be empty"))
	}
	if err := c.Replicas.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("replicas: %w", err))
	} else if c.Replicas.Max > MaxReplicas {
		errs = append(errs, fmt.Errorf("replicas: max must be at most %d, ElastiCache's limit, got %d",
			MaxReplicas, c.Replicas.Max))
	}
	errs = append(errs, validateWait(c.WaitTimeout, c.PollInterval, c.MaxPollInterval)...)
	return errors.Join(errs...)
}

func validateWait(timeout, poll, maxPoll time.Duration) []error {
	var errs []error
	if timeout <= 0 {
		errs = append(errs, fmt.Errorf("wait_timeout must be positive, got %s", timeout))
	}
	if poll <= 0 {
		errs = append(errs, fmt.Errorf("poll_interval must be positive, got %s", poll))
	}
	if maxPoll < poll {
		errs = append(errs, fmt.Errorf("max_poll_interval (%s) must not be below poll_interval (%s)",
			maxPoll, poll))
	}
	return errs
}
