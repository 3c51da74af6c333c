// Package configtest loads a package's config test files the way catobot's
// config loader does, so each package's tests assert the errors a person
// would read.
package configtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/thinktank/catobot/internal/strictyaml"
)

// Load reads testdata/name strictly over def and validates the result.
func Load[C interface{ Validate() error }](t testing.TB, name string, def C) (C, error) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read config test file: %v", err)
	}
	if err := strictyaml.Decode(raw, &def); err != nil {
		return def, err
	}
	return def, def.Validate()
}
