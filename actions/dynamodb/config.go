package dynamodb

import (
	"errors"
	"fmt"
	"time"

	"github.com/thinktank/catobot/actions"
)

// MaxCapacityUnits is DynamoDB's default per-table quota on provisioned
// read or write capacity units.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#default-limits-throughput-capacity-modes
const MaxCapacityUnits = 40000

// Config is the dynamo component's settings.
type Config struct {
	// TableName names the table to read and change.
	TableName string `yaml:"table_name"`
	// Read and Write bound the provisioned capacity units a step may set.
	Read  actions.Limits `yaml:"read"`
	Write actions.Limits `yaml:"write"`
	// Wait tunes how Run and Follow wait for the table to be ACTIVE.
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

// DefaultConfig returns the runbook's settings: table
// cato-semantic-memory-production, 1 to 40000 read and write units.
func DefaultConfig() Config {
	return Config{
		TableName: "cato-semantic-memory-production",
		Read:      actions.Limits{Min: 1, Max: MaxCapacityUnits},
		Write:     actions.Limits{Min: 1, Max: MaxCapacityUnits},
		Wait:      WaitConfig{MinDelay: 5 * time.Second, MaxDelay: time.Minute, Timeout: 30 * time.Minute},
	}
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	if c.TableName == "" {
		return errors.New("table_name must be set")
	}
	for _, l := range []struct {
		key string
		lim actions.Limits
	}{{"read", c.Read}, {"write", c.Write}} {
		if err := l.lim.Validate(); err != nil {
			return fmt.Errorf("%s: %w", l.key, err)
		}
		if l.lim.Min < 1 {
			return fmt.Errorf("%s: min must be at least 1, DynamoDB's lowest, got %d", l.key, l.lim.Min)
		}
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
