package lease_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/lease"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(c *lease.Config)
		wantErr string
	}{
		{name: "default", change: func(*lease.Config) {}},
		{
			name:    "unknown backend",
			change:  func(c *lease.Config) { c.Backend = "etcd" },
			wantErr: `lease.backend: "etcd" is not auto, single, redis or kubernetes`,
		},
		{
			name:    "no name",
			change:  func(c *lease.Config) { c.Name = "" },
			wantErr: "lease.name: must not be empty",
		},
		{
			name:    "short ttl",
			change:  func(c *lease.Config) { c.TTL = 10 * time.Millisecond },
			wantErr: "lease.ttl: 10ms is under one second",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := lease.DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.wantErr)
		})
	}
}
