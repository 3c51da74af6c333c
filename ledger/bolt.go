package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrFileInUse is returned by OpenBolt when another process holds the file.
var ErrFileInUse = errors.New(
	"ledger file is in use by another catobot process; use a valkey:// ledger for several replicas")

// boltLockTimeout bounds the wait for the file lock another process holds.
const boltLockTimeout = 2 * time.Second

// boltSweepEvery is how often expired keys are removed from the file.
const boltSweepEvery = 10 * time.Minute

// Bolt is a Store kept in one bbolt file. One process at a time may open the
// file; each Store call is one bolt transaction, so Create and Swap are
// atomic within that process.
//
// Each value is stored as an 8-byte big-endian expiry (Unix nanoseconds, 0
// for none) followed by the value. Expired keys are ignored on read and
// removed by a sweep every ten minutes. Lists are buckets whose keys are
// big-endian sequence numbers.
type Bolt struct {
	db   *bolt.DB
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens or creates the bolt file at path. It returns an error
// wrapping ErrFileInUse when another process has the file open.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltLockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("ledger: open %s: %w", path, ErrFileInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}

	b := &Bolt{db: db, stop: make(chan struct{})}
	b.done.Add(1)
	go b.sweepLoop()
	return b, nil
}

func (b *Bolt) sweepLoop() {
	defer b.done.Done()
	t := time.NewTicker(boltSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_, _ = b.Sweep(context.Background())
		}
	}
}

func boltBucket(bucket string) []byte { return []byte("b:" + bucket) }

func boltList(list string) []byte { return []byte("l:" + list) }

func boltEncode(value []byte, ttl time.Duration) []byte {
	out := make([]byte, 8+len(value))
	if ttl > 0 {
		binary.BigEndian.PutUint64(out, uint64(time.Now().Add(ttl).UnixNano()))
	}
	copy(out[8:], value)
	return out
}

// boltDecode returns the stored value, or false when it is absent or expired.
func boltDecode(raw []byte, now time.Time) ([]byte, bool) {
	if len(raw) < 8 {
		return nil, false
	}
	exp := binary.BigEndian.Uint64(raw)
	if exp != 0 && now.UnixNano() >= int64(exp) {
		return nil, false
	}
	return bytes.Clone(raw[8:]), true
}

// Create implements Store.
func (b *Bolt) Create(
	_ context.Context,
	bucket, key string,
	value []byte,
	ttl time.Duration,
) (bool, error) {
	created := false
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltBucket(bucket))
		if err != nil {
			return err
		}
		if _, ok := boltDecode(bk.Get([]byte(key)), time.Now()); ok {
			return nil
		}
		created = true
		return bk.Put([]byte(key), boltEncode(value, ttl))
	})
	if err != nil {
		return false, fmt.Errorf("ledger: create %s %s: %w", bucket, key, err)
	}
	return created, nil
}

// Get implements Store.
func (b *Bolt) Get(_ context.Context, bucket, key string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket(bucket))
		if bk == nil {
			return ErrNotFound
		}
		v, ok := boltDecode(bk.Get([]byte(key)), time.Now())
		if !ok {
			return ErrNotFound
		}
		out = v
		return nil
	})
	return out, err
}

// Put implements Store.
func (b *Bolt) Put(_ context.Context, bucket, key string, value []byte, ttl time.Duration) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltBucket(bucket))
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), boltEncode(value, ttl))
	})
	if err != nil {
		return fmt.Errorf("ledger: put %s %s: %w", bucket, key, err)
	}
	return nil
}

// Swap implements Store. The key keeps its expiry.
func (b *Bolt) Swap(_ context.Context, bucket, key string, old, value []byte) (bool, error) {
	swapped := false
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket(bucket))
		if bk == nil {
			return ErrNotFound
		}
		raw := bk.Get([]byte(key))
		cur, ok := boltDecode(raw, time.Now())
		if !ok {
			return ErrNotFound
		}
		if !bytes.Equal(cur, old) {
			return nil
		}
		next := make([]byte, 8+len(value))
		copy(next, raw[:8])
		copy(next[8:], value)
		swapped = true
		return bk.Put([]byte(key), next)
	})
	if errors.Is(err, ErrNotFound) {
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("ledger: swap %s %s: %w", bucket, key, err)
	}
	return swapped, nil
}

// Delete implements Store.
func (b *Bolt) Delete(_ context.Context, bucket, key string) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket(bucket))
		if bk == nil {
			return nil
		}
		return bk.Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("ledger: delete %s %s: %w", bucket, key, err)
	}
	return nil
}

// List implements Store.
func (b *Bolt) List(_ context.Context, bucket string) (map[string][]byte, error) {
	out := map[string][]byte{}
	now := time.Now()
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket(bucket))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, raw []byte) error {
			if v, ok := boltDecode(raw, now); ok {
				out[string(k)] = v
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: list %s: %w", bucket, err)
	}
	return out, nil
}

// Append implements Store.
func (b *Bolt) Append(_ context.Context, list string, value []byte, keep int) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltList(list))
		if err != nil {
			return err
		}
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		if err := bk.Put(seqKey(seq), bytes.Clone(value)); err != nil {
			return err
		}
		if keep <= 0 || seq <= uint64(keep) {
			return nil
		}

		// Entries are only ever removed from the front, so the keys from the
		// first one to seq are contiguous.
		first, _ := bk.Cursor().First()
		for s := binary.BigEndian.Uint64(first); s <= seq-uint64(keep); s++ {
			if err := bk.Delete(seqKey(s)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: append %s: %w", list, err)
	}
	return nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// Tail implements Store.
func (b *Bolt) Tail(_ context.Context, list string, n int) ([][]byte, error) {
	var out [][]byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltList(list))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			out = append(out, bytes.Clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: tail %s: %w", list, err)
	}
	return out, nil
}

// Sweep removes every expired key and reports how many it removed.
func (b *Bolt) Sweep(_ context.Context) (int, error) {
	removed := 0
	now := time.Now()
	err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			if !bytes.HasPrefix(name, []byte("b:")) {
				return nil
			}
			var expired [][]byte
			err := bk.ForEach(func(k, raw []byte) error {
				if _, ok := boltDecode(raw, now); !ok {
					expired = append(expired, bytes.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range expired {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
			removed += len(expired)
			return nil
		})
	})
	if err != nil {
		return removed, fmt.Errorf("ledger: sweep: %w", err)
	}
	return removed, nil
}

// Close implements Store. It stops the sweep and closes the file.
func (b *Bolt) Close() error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		b.done.Wait()
		err = b.db.Close()
	})
	return err
}
