package ledger_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/internal/redistest"
	"github.com/thinktank/catobot/ledger"
)

func TestOpen(t *testing.T) {
	redisAddr := strings.TrimPrefix(redistest.Start(t), "redis://")

	tests := []struct {
		name    string
		spec    string
		dir     string
		want    string // type of the store, or ""
		wantErr string
	}{
		{name: "default is a file", spec: "", dir: "data", want: "*ledger.Bolt"},
		{name: "file", spec: "file", dir: "data", want: "*ledger.Bolt"},
		{name: "memory", spec: "memory", want: "*ledger.Memory"},
		{name: "valkey", spec: "valkey://" + redisAddr, want: "*ledger.Redis"},
		{name: "redis", spec: "redis://" + redisAddr, want: "*ledger.Redis"},
		{
			name:    "file without a dir",
			spec:    "file",
			wantErr: "ledger.dir: a file ledger needs a data directory",
		},
		{
			name:    "unknown word",
			spec:    "sqlite",
			wantErr: `ledger.url: want "file", "memory" or a valkey:// or redis:// url`,
		},
		{
			name:    "unknown scheme",
			spec:    "memcached://127.0.0.1:1",
			wantErr: `ledger.url: unsupported scheme "memcached"; use valkey://, valkeys://, redis:// or rediss://`,
		},
		{
			name:    "no host",
			spec:    "valkey:///0",
			wantErr: "ledger.url: the url names no host",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := ""
			if tc.dir != "" {
				dir = filepath.Join(t.TempDir(), tc.dir)
			}
			s, err := ledger.Open(context.Background(), tc.spec, dir)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			require.Equal(t, tc.want, fmt.Sprintf("%T", s))
			if tc.dir != "" {
				require.FileExists(t, filepath.Join(dir, ledger.FileName))
			}
		})
	}
}

func TestBoltPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")

	s, err := ledger.OpenBolt(path)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "executions", "p-1", []byte("running"), 0))
	require.NoError(t, s.Append(ctx, "audit", []byte("a"), 10))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second close")

	s, err = ledger.OpenBolt(path)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Get(ctx, "executions", "p-1")
	require.NoError(t, err)
	require.Equal(t, "running", string(got))
	require.NoError(t, s.Append(ctx, "audit", []byte("b"), 10))
	tail, err := s.Tail(ctx, "audit", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a"}, strs(tail))
}

func TestBoltFileInUse(t *testing.T) {
	dir := t.TempDir()
	first, err := ledger.Open(context.Background(), "file", dir)
	require.NoError(t, err)
	defer first.Close()

	// flock(2) locks conflict between two open files even in one process,
	// so this is what a second catobot process sees.
	_, err = ledger.Open(context.Background(), "file", dir)
	require.ErrorIs(t, err, ledger.ErrFileInUse)
	require.EqualError(t, err, "ledger.dir: ledger: open "+filepath.Join(dir, ledger.FileName)+
		": ledger file is in use by another catobot process; use a valkey:// ledger for several replicas")
}

// TestRedisTwoClients races two stores with their own connections, as two
// replicas would have, on the same keys.
func TestRedisTwoClients(t *testing.T) {
	u, prefix := redistest.Start(t), redistest.Prefix(t)
	replicas := []*ledger.Ledger{
		ledger.New(openRedis(t, u, prefix), time.Hour),
		ledger.New(openRedis(t, u, prefix), time.Hour),
	}

	t.Run("create", func(t *testing.T) {
		requireOneWinner(t, 50, func(ctx context.Context, i int) (bool, error) {
			return replicas[i%2].FirstSeen(ctx, "slack", "envelope-1")
		})
	})
	t.Run("claim", func(t *testing.T) {
		requireOneWinner(t, 50, func(ctx context.Context, i int) (bool, error) {
			return replicas[i%2].Claim(ctx, ledger.Execution{
				ID: "p-1", State: ledger.ExecRunning, Owner: fmt.Sprintf("replica-%d", i%2),
			})
		})
	})
	t.Run("update pending", func(t *testing.T) {
		ctx := context.Background()
		require.NoError(t, replicas[0].SavePending(ctx, ledger.Pending{ID: "p-2"}))
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				_, err := replicas[i%2].UpdatePending(ctx, "p-2", func(p *ledger.Pending) error {
					p.ApprovedBy += "x"
					return nil
				})
				require.NoError(t, err)
			})
		}
		wg.Wait()
		got, err := replicas[1].Pending(ctx, "p-2")
		require.NoError(t, err)
		require.Len(t, got.ApprovedBy, 20)
	})
}

func TestRedisPassword(t *testing.T) {
	const password = "s3cret-Pw"
	u := redistest.StartAuth(t, password)
	pu, err := url.Parse(u)
	require.NoError(t, err)
	pu.User = url.UserPassword("default", password)

	s, err := ledger.OpenRedis(pu.String(), redistest.Prefix(t))
	require.NoError(t, err)
	defer s.Close()
	ok, err := s.Create(context.Background(), "events", "a", []byte("1"), time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
}

// TestRedisErrorsHideSecret checks that no error from opening a Redis
// ledger contains the URL's password.
func TestRedisErrorsHideSecret(t *testing.T) {
	const password = "s3cret-Pw"
	authURL := strings.TrimPrefix(redistest.StartAuth(t, password), "redis://")
	host, _, err := net.SplitHostPort(strings.TrimSuffix(authURL, "/0"))
	require.NoError(t, err)
	closed := closedPort(t)

	tests := []struct {
		name string
		url  string
	}{
		{name: "wrong password", url: "valkey://default:wrong-" + password + "@" + authURL},
		{name: "bad port", url: "valkey://default:" + password + "@" + host + ":notaport/0"},
		{name: "bad escape", url: "redis://default:" + password + "%zz@" + host + ":1/0"},
		{name: "bad database", url: "redis://default:" + password + "@" + host + ":1/" + password},
		{name: "bad option", url: "redis://default:" + password + "@" + host + ":1/0?x=" + password},
		{name: "bad scheme", url: "valkeyy://default:" + password + "@" + host + ":1/0"},
		{name: "refused", url: "rediss://default:" + password + "@" + closed + "/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ledger.OpenRedis(tc.url, "x:")
			require.Error(t, err)
			require.NotContains(t, err.Error(), password)
			require.NotContains(t, fmt.Sprintf("%+v", err), password)

			ctx, cancel := context.WithTimeout(context.Background(), eventually)
			defer cancel()
			_, err = ledger.Open(ctx, tc.url, "")
			require.Error(t, err)
			require.NotContains(t, err.Error(), password)
		})
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
