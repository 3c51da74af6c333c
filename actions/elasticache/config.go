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
	// Wait tunes how Run and Follow wait for the group to be available.
	Wait WaitConfig `yaml:"wait"`
}

// WaitConfig tunes the SDK waiter that follows a change.
type WaitConfig struct {
	// MinDelay and MaxDelay bound the pause between two reads.
	MinDelay time.Duration `yaml:"min_delay"`
	MaxDelay time.Duration `yaml:"max_delay"`
	// Timeout is how long to follow a change before giving up.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the runbook's settings: cato-cache-production, up to
// five replicas per node group, allowed node types checked.
func DefaultConfig() Config {
	return Config{
		ReplicationGroupID:    "cato-cache-production",
		Replicas:              actions.Limits{Min: 0, Max: MaxReplicas},
		CheckAllowedNodeTypes: true,
		Wait:                  WaitConfig{MinDelay: 15 * time.Second, MaxDelay: 2 * time.Minute, Timeout: time.Hour},
	}
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	if c.ReplicationGroupID == "" {
		return errors.New("replication_group_id must be set")
	}
	if err := c.Replicas.Validate(); err != nil {
		return fmt.Errorf("replicas: %w", err)
	}
	if c.Replicas.Max > MaxReplicas {
		return fmt.Errorf("replicas: max must be at most %d, ElastiCache's limit, got %d",
			MaxReplicas, c.Replicas.Max)
	}
	return c.Wait.Validate()
}

// Validate checks w; its errors name the YAML keys under wait.
func (w WaitConfig) Validate() error {
	switch {
	case w.MinDelay <= 0:
		return fmt.Errorf("wait: min_delay must be positive, got %s", w.MinDelay)
	case w.MaxDelay < w.MinDelay:
		return fmt.Errorf("wait: max_delay (%s) must not be below min_delay (%s)", w.MaxDelay, w.MinDelay)
	case w.Timeout <= 0:
		return fmt.Errorf("wait: timeout must be positive, got %s", w.Timeout)
	}
	return nil
}
