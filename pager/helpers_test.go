package pager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/pdfake"
	"github.com/thinktank/catobot/pager"
	"github.com/thinktank/catobot/secret"
)

const (
	testToken      = "y_NbAkKc66ryYTWUXYEu"
	testRoutingKey = "R0UT1NGKEYSHADOWSELF0000000000AA"
	incidentID     = "Q1SHAD0WS3LF7X"
	alexEmail      = "alex.rivera@example.com"
)

// testNow is a few minutes after the cases' incidents were created.
var testNow = time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)

// casesDir finds the shared test inputs: $CATOBOT_CASES, else the shared
// folder beside the repository.
func casesDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CATOBOT_CASES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "cases", "payloads")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("test cases not found at %s (set CATOBOT_CASES): %v", dir, err)
	}
	return dir
}

func readCase(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(casesDir(t), "pagerduty", rel))
	require.NoError(t, err)
	return b
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a pager.Client wired to a fresh fake.
type env struct {
	fake   *pdfake.Server
	client *pager.Client
	logs   *syncBuffer

	mu     sync.Mutex
	sleeps []time.Duration
}

func (e *env) slept() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

// newEnv starts a fake and a client pointed at it; edit changes the
// config and options before the client is built.
func newEnv(t *testing.T, edit func(*pager.Config, *pager.Options)) *env {
	t.Helper()
	e := &env{fake: pdfake.New(testToken), logs: &syncBuffer{}}
	t.Cleanup(e.fake.Close)
	e.fake.SetClock(func() time.Time { return testNow })
	e.fake.AddRoutingKey(pdfake.RoutingKey{Key: testRoutingKey, ServiceID: "PSV5HS1",
		Service: "Shadow Self Inference (prod)", PolicyID: pdfake.CatoPolicyID})

	cfg := pager.DefaultConfig()
	cfg.APIURL, cfg.EventsURL = e.fake.URL(), e.fake.URL()
	cfg.Services = []string{"PSV5HS1", "PSV0DS2"}
	cfg.EscalationPolicy = pdfake.ConsciousnessPolicyID
	opts := pager.Options{
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep: func(_ context.Context, d time.Duration) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.sleeps = append(e.sleeps, d)
			return nil
		},
		Now: func() time.Time { return testNow },
	}
	if edit != nil {
		edit(&cfg, &opts)
	}
	c, err := pager.New(cfg, pager.Secrets{Token: secret.String(testToken),
		RoutingKey: secret.String(testRoutingKey)}, opts)
	require.NoError(t, err)
	e.client = c
	return e
}

// requireJSONEqual compares two JSON documents semantically.
func requireJSONEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	require.NoError(t, json.Unmarshal(got, &g), "got: %s", got)
	require.NoError(t, json.Unmarshal(want, &w), "want: %s", want)
	if diff := cmp.Diff(g, w); diff != "" {
		t.Fatalf("JSON mismatch (-got +want):\n%s", diff)
	}
}
