package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the bolt file Open creates in the data directory.
const FileName = "catobot.db"

// RedisPrefix is the key prefix of a ledger that Open puts in Redis.
const RedisPrefix = "catobot:ledger:"

// Open returns the Store that spec (the config key ledger.url) names:
//
//	"" or "file"                   the bolt file catobot.db in dataDir (ledger.dir)
//	"memory"                       a Memory store, lost on exit
//	"valkey://…", "valkeys://…",
//	"redis://…", "rediss://…"      Redis or Valkey, shared by several replicas
//
// Errors name the config keys and never contain a password.
func Open(ctx context.Context, spec string, dataDir string) (Store, error) {
	switch spec {
	case "", "file":
		return openFile(dataDir)
	case "memory":
		return NewMemory(), nil
	}

	scheme, _, ok := strings.Cut(spec, "://")
	if !ok {
		return nil, errors.New(`ledger.url: want "file", "memory" or a valkey:// or redis:// url`)
	}
	switch strings.ToLower(scheme) {
	case "valkey", "valkeys", "redis", "rediss":
		return openRedis(ctx, spec, RedisPrefix)
	}
	return nil, fmt.Errorf("ledger.url: unsupported scheme %q; use valkey://, valkeys://, "+
		"redis:// or rediss://", scheme)
}

func openFile(dataDir string) (Store, error) {
	if dataDir == "" {
		return nil, errors.New("ledger.dir: a file ledger needs a data directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger.dir: create %s: %w", dataDir, err)
	}

	b, err := OpenBolt(filepath.Join(dataDir, FileName))
	if err != nil {
		return nil, fmt.Errorf("ledger.dir: %w", err)
	}
	return b, nil
}
