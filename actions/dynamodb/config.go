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
	// WaitTimeout bounds how long a step follows an update to ACTIVE.
	WaitTimeout time.Duration `yaml:"wait_timeout"`
	// PollInterval and MaxPollInterval bound the delay between
	// DescribeTable calls while following an update; the SDK's waiter
	// backs off from the first towards the second.
	PollInterval    time.Duration `yaml:"poll_interval"`
	MaxPollInterval time.Duration `yaml:"max_poll_interval"`
}

// DefaultConfig returns the runbook's settings: table
// cato-semantic-memory-production, 1 to 40000 read and write units.
func DefaultConfig() Config {
	return Config{
		TableName:       "cato-semantic-memory-production",
		Read:            actions.Limits{Min: 1, Max: MaxCapacityUnits},
		Write:           actions.Limits{Min: 1, Max: MaxCapacityUnits},
		WaitTimeout:     30 * time.Minute,
		PollInterval:    5 * time.Second,
		MaxPollInterval: time.Minute,
	}
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	var errs []error
	if c.TableName == "" {
		errs = append(errs, errors.New("table_name must not be empty"))
	}
	for _, l := range []struct {
		key string
		lim actions.Limits
	}{{"read", c.Read}, {"write", c.Write}} {
		if err := l.lim.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.key, err))
		} else if l.lim.Min < 1 {
			errs = append(errs, fmt.Errorf("%s: min must be at least 1, DynamoDB's lowest, got %d",
				l.key, l.lim.Min))
		}
	}
	if c.WaitTimeout <= 0 {
		errs = append(errs, fmt.Errorf("wait_timeout must be positive, got %s", c.WaitTimeout))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll_interval must be positive, got %s", c.PollInterval))
	}
	if c.MaxPollInterval < c.PollInterval {
		errs = append(errs, fmt.Errorf("max_poll_interval (%s) must not be below poll_interval (%s)",
			c.MaxPollInterval, c.PollInterval))
	}
	return errors.Join(errs...)
}
