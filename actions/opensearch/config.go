package opensearch

import (
	"errors"
	"fmt"

	"github.com/thinktank/catobot/actions"
)

// MinCapacityOCU is the API's lowest value for either capacity limit.
// https://docs.aws.amazon.com/opensearch-service/latest/ServerlessAPIReference/API_CapacityLimits.html
const MinCapacityOCU = 2

// Config is the opensearch component's settings.
type Config struct {
	// Indexing and Search bound the account's maximum indexing and search
	// capacity, in OCUs, that a step may set. Min is at least
	// MinCapacityOCU. The default maximum of 200 is a guardrail of ours,
	// not an AWS limit.
	Indexing actions.Limits `yaml:"indexing"`
	Search   actions.Limits `yaml:"search"`
	// ListCollections makes Status list the account's collections.
	ListCollections bool `yaml:"list_collections"`
}

// DefaultConfig returns 2 to 200 OCUs for each limit, with collections
// listed in the status.
func DefaultConfig() Config {
	return Config{
		Indexing:        actions.Limits{Min: MinCapacityOCU, Max: 200},
		Search:          actions.Limits{Min: MinCapacityOCU, Max: 200},
		ListCollections: true,
	}
}

// Validate checks c; its errors name the YAML keys.
func (c Config) Validate() error {
	var errs []error
	for _, l := range []struct {
		key string
		lim actions.Limits
	}{{"indexing", c.Indexing}, {"search", c.Search}} {
		if err := l.lim.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.key, err))
		} else if l.lim.Min < MinCapacityOCU {
			errs = append(errs, fmt.Errorf("%s: min must be at least %d, the API's lowest, got %d",
				l.key, MinCapacityOCU, l.lim.Min))
		}
	}
	return errors.Join(errs...)
}
