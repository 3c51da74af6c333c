package ledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/actions"
	"github.com/thinktank/catobot/internal/redistest"
	"github.com/thinktank/catobot/ledger"
)

// eventually is the generous deadline for waiting on a state change.
const eventually = 20 * time.Second

// storeCase opens a fresh, empty store of one kind.
type storeCase struct {
	name string
	open func(t *testing.T) ledger.Store
}

func storeCases() []storeCase {
	return []storeCase{
		{name: "memory", open: func(t *testing.T) ledger.Store {
			return ledger.NewMemory()
		}},
		{name: "bolt", open: func(t *testing.T) ledger.Store {
			s, err := ledger.OpenBolt(filepath.Join(t.TempDir(), "ledger.db"))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		}},
		{name: "redis", open: func(t *testing.T) ledger.Store {
			return openRedis(t, redistest.Start(t), redistest.Prefix(t))
		}},
	}
}

func openRedis(t *testing.T, url, prefix string) *ledger.Redis {
	t.Helper()
	s, err := ledger.OpenRedis(url, prefix)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func forEachStore(t *testing.T, f func(t *testing.T, s ledger.Store)) {
	for _, tc := range storeCases() {
		t.Run(tc.name, func(t *testing.T) {
			f(t, tc.open(t))
		})
	}
}

func TestStoreBasics(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()

		_, err := s.Get(ctx, "things", "a")
		require.ErrorIs(t, err, ledger.ErrNotFound)
		require.NoError(t, s.Delete(ctx, "things", "a"), "deleting an absent key")
		_, err = s.Swap(ctx, "things", "a", []byte("x"), []byte("y"))
		require.ErrorIs(t, err, ledger.ErrNotFound)

		require.NoError(t, s.Put(ctx, "things", "a", []byte("one"), 0))
		require.NoError(t, s.Put(ctx, "things", "a", []byte("two"), 0))
		got, err := s.Get(ctx, "things", "a")
		require.NoError(t, err)
		require.Equal(t, "two", string(got))

		ok, err := s.Swap(ctx, "things", "a", []byte("one"), []byte("three"))
		require.NoError(t, err)
		require.False(t, ok, "swap from a stale value")
		ok, err = s.Swap(ctx, "things", "a", []byte("two"), []byte("three"))
		require.NoError(t, err)
		require.True(t, ok)
		got, err = s.Get(ctx, "things", "a")
		require.NoError(t, err)
		require.Equal(t, "three", string(got))

		ok, err = s.Create(ctx, "things", "a", []byte("four"), 0)
		require.NoError(t, err)
		require.False(t, ok, "create over an existing key")

		require.NoError(t, s.Delete(ctx, "things", "a"))
		_, err = s.Get(ctx, "things", "a")
		require.ErrorIs(t, err, ledger.ErrNotFound)
		ok, err = s.Create(ctx, "things", "a", []byte("five"), 0)
		require.NoError(t, err)
		require.True(t, ok, "create after delete")

		// Keys with separators and binary values survive the round trip.
		val := []byte{0, 1, 2, 0xff, '\n'}
		require.NoError(t, s.Put(ctx, "things", "slack:C1:17.5", val, 0))
		got, err = s.Get(ctx, "things", "slack:C1:17.5")
		require.NoError(t, err)
		require.Equal(t, val, got)
	})
}

func TestStoreCreateOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		requireOneWinner(t, 50, func(ctx context.Context, i int) (bool, error) {
			return s.Create(ctx, "events", "pd:E1", []byte(strconv.Itoa(i)), time.Hour)
		})
	})
}

// requireOneWinner runs try from n goroutines at once and requires exactly
// one of them to report true.
func requireOneWinner(t *testing.T, n int, try func(ctx context.Context, i int) (bool, error)) {
	t.Helper()
	ctx := context.Background()
	var (
		wins  atomic.Int32
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			ok, err := try(ctx, i)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), wins.Load(), "winners")
}

func TestStoreTTL(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()
		ttl := 100 * time.Millisecond

		ok, err := s.Create(ctx, "events", "short", []byte("1"), ttl)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.Put(ctx, "events", "put-short", []byte("2"), ttl))
		require.NoError(t, s.Put(ctx, "events", "swapped", []byte("3"), ttl))
		ok, err = s.Swap(ctx, "events", "swapped", []byte("3"), []byte("4"))
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.Put(ctx, "events", "forever", []byte("5"), 0))

		gone := func(key string) func() bool {
			return func() bool {
				_, err := s.Get(ctx, "events", key)
				return err == ledger.ErrNotFound
			}
		}
		for _, key := range []string{"short", "put-short", "swapped"} {
			require.Eventually(t, gone(key), eventually, 10*time.Millisecond, key)
		}

		all, err := s.List(ctx, "events")
		require.NoError(t, err)
		if diff := cmp.Diff(keys(all), []string{"forever"}); diff != "" {
			t.Errorf("List keys (-got +want):\n%s", diff)
		}
		ok, err = s.Create(ctx, "events", "short", []byte("6"), 0)
		require.NoError(t, err)
		require.True(t, ok, "create over an expired key")
	})
}

func TestBoltSweep(t *testing.T) {
	ctx := context.Background()
	s, err := ledger.OpenBolt(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	defer s.Close()

	require.NoError(t, s.Put(ctx, "events", "a", []byte("1"), time.Millisecond))
	require.NoError(t, s.Put(ctx, "events", "b", []byte("2"), 0))
	require.Eventually(t, func() bool {
		_, err := s.Get(ctx, "events", "a")
		return err == ledger.ErrNotFound
	}, eventually, 5*time.Millisecond)

	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "swept keys")
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n, "swept keys on the second sweep")
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestStoreList(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()

		all, err := s.List(ctx, "cards")
		require.NoError(t, err)
		require.Empty(t, all)

		want := map[string][]byte{}
		for i := range 20 {
			k := fmt.Sprintf("incident:%02d", i)
			want[k] = []byte("card " + k)
			require.NoError(t, s.Put(ctx, "cards", k, want[k], 0))
		}
		require.NoError(t, s.Put(ctx, "pending", "p1", []byte("other bucket"), 0))
		require.NoError(t, s.Put(ctx, "cards", "deleted", []byte("x"), 0))
		require.NoError(t, s.Delete(ctx, "cards", "deleted"))

		all, err = s.List(ctx, "cards")
		require.NoError(t, err)
		if diff := cmp.Diff(all, want); diff != "" {
			t.Errorf("List (-got +want):\n%s", diff)
		}
	})
}

func TestStoreAppendTail(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()

		got, err := s.Tail(ctx, "audit", 10)
		require.NoError(t, err)
		require.Empty(t, got)

		for i := 1; i <= 10; i++ {
			require.NoError(t, s.Append(ctx, "audit", []byte(strconv.Itoa(i)), 5))
		}
		for i := 1; i <= 3; i++ {
			require.NoError(t, s.Append(ctx, "unlimited", []byte(strconv.Itoa(i)), 0))
		}

		tests := []struct {
			name string
			list string
			n    int
			want []string
		}{
			{name: "newest three", list: "audit", n: 3, want: []string{"10", "9", "8"}},
			{name: "capped at keep", list: "audit", n: 100, want: []string{"10", "9", "8", "7", "6"}},
			{name: "none", list: "audit", n: 0, want: nil},
			{name: "keep zero keeps all", list: "unlimited", n: 10, want: []string{"3", "2", "1"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Tail(ctx, tc.list, tc.n)
				require.NoError(t, err)
				if diff := cmp.Diff(strs(got), tc.want); diff != "" {
					t.Errorf("Tail (-got +want):\n%s", diff)
				}
			})
		}
	})
}

func strs(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

func TestStoreAppendConcurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				require.NoError(t, s.Append(ctx, "audit", []byte(strconv.Itoa(i)), 30))
			})
		}
		wg.Wait()

		got, err := s.Tail(ctx, "audit", 100)
		require.NoError(t, err)
		require.Len(t, got, 30)
		seen := map[string]bool{}
		for _, b := range got {
			require.False(t, seen[string(b)], "duplicate entry %s", b)
			seen[string(b)] = true
		}
	})
}

func TestLedgerClaimOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()
		l := ledger.New(s, time.Hour)
		exec := ledger.Execution{
			ID:          "p-1",
			Plan:        actions.Plan{Component: "shadow-self", Summary: "Shadow Self: 5 → 15"},
			RequestedBy: "U1",
			State:       ledger.ExecRunning,
		}

		requireOneWinner(t, 50, func(ctx context.Context, i int) (bool, error) {
			e := exec
			e.Owner = fmt.Sprintf("clicker-%d", i)
			return l.Claim(ctx, e)
		})

		got, err := l.Execution(ctx, "p-1")
		require.NoError(t, err)
		require.Equal(t, ledger.ExecRunning, got.State)

		require.NoError(t, l.SaveExecution(ctx, ledger.Execution{ID: "p-2", State: ledger.ExecRunning}))
		require.NoError(t, l.SaveExecution(ctx, ledger.Execution{ID: "p-3", State: ledger.ExecSucceeded}))
		running, err := l.Running(ctx)
		require.NoError(t, err)
		var ids []string
		for _, e := range running {
			ids = append(ids, e.ID)
		}
		slices.Sort(ids)
		if diff := cmp.Diff(ids, []string{"p-1", "p-2"}); diff != "" {
			t.Errorf("Running ids (-got +want):\n%s", diff)
		}

		got.State = ledger.ExecSucceeded
		require.NoError(t, l.SaveExecution(ctx, got))
		ok, err := l.Claim(ctx, exec)
		require.NoError(t, err)
		require.False(t, ok, "claim after the execution finished")
	})
}

func TestLedgerFirstSeen(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		l := ledger.New(s, time.Hour)
		requireOneWinner(t, 3, func(ctx context.Context, _ int) (bool, error) {
			return l.FirstSeen(ctx, "pagerduty", "webhook-1")
		})
	})
}

func TestLedgerUpdatePendingContention(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()
		l := ledger.New(s, time.Hour)
		require.NoError(t, l.SavePending(ctx, ledger.Pending{ID: "p-1", State: ledger.StatePending}))

		const writers, each = 10, 5
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for range each {
					_, err := l.UpdatePending(ctx, "p-1", func(p *ledger.Pending) error {
						p.ApprovedBy += strconv.Itoa(w)
						return nil
					})
					require.NoError(t, err)
				}
			})
		}
		wg.Wait()

		got, err := l.Pending(ctx, "p-1")
		require.NoError(t, err)
		require.Len(t, got.ApprovedBy, writers*each, "every update applied once")

		// A refusal from change is returned unchanged and stores nothing.
		refused := fmt.Errorf("already approved")
		_, err = l.UpdatePending(ctx, "p-1", func(p *ledger.Pending) error {
			p.State = ledger.StateCancelled
			return refused
		})
		require.ErrorIs(t, err, refused)
		got, err = l.Pending(ctx, "p-1")
		require.NoError(t, err)
		require.Equal(t, ledger.StatePending, got.State)
	})
}

func TestLedgerHistory(t *testing.T) {
	forEachStore(t, func(t *testing.T, s ledger.Store) {
		ctx := context.Background()
		l := ledger.New(s, time.Hour)
		for i, c := range []string{"shadow-self", "ray-serve", "shadow-self", "cache"} {
			require.NoError(t, l.Audit(ctx, ledger.Entry{Actor: "U1", Action: "run", Component: c,
				Summary: strconv.Itoa(i)}))
		}

		got, err := l.History(ctx, "shadow-self", 10)
		require.NoError(t, err)
		var summaries []string
		for _, e := range got {
			summaries = append(summaries, e.Summary)
		}
		if diff := cmp.Diff(summaries, []string{"2", "0"}); diff != "" {
			t.Errorf("History (-got +want):\n%s", diff)
		}
	})
}
