package ledger

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// Memory is a Store kept in memory, for tests and the sandbox. It is atomic
// within one process only.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]map[string]memValue
	lists   map[string][][]byte
}

type memValue struct {
	b       []byte
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{buckets: map[string]map[string]memValue{}, lists: map[string][][]byte{}}
}

func (m *Memory) lookup(bucket, key string) (memValue, bool) {
	v, ok := m.buckets[bucket][key]
	if ok && !v.expires.IsZero() && time.Now().After(v.expires) {
		delete(m.buckets[bucket], key)
		return memValue{}, false
	}
	return v, ok
}

func (m *Memory) set(bucket, key string, value []byte, ttl time.Duration) {
	if m.buckets[bucket] == nil {
		m.buckets[bucket] = map[string]memValue{}
	}
	v := memValue{b: bytes.Clone(value)}
	if ttl > 0 {
		v.expires = time.Now().Add(ttl)
	}
	m.buckets[bucket][key] = v
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.lookup(bucket, key); ok {
		return false, nil
	}
	m.set(bucket, key, value, ttl)
	return true, nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, bucket, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.lookup(bucket, key)
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(v.b), nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, bucket, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set(bucket, key, value, ttl)
	return nil
}

// Swap implements Store. The key keeps its expiry.
func (m *Memory) Swap(_ context.Context, bucket, key string, old, value []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.lookup(bucket, key)
	if !ok {
		return false, ErrNotFound
	}
	if !bytes.Equal(v.b, old) {
		return false, nil
	}
	// The key keeps its expiry, as in the other stores.
	v.b = bytes.Clone(value)
	m.buckets[bucket][key] = v
	return true, nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, bucket, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.buckets[bucket], key)
	return nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, bucket string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for k := range m.buckets[bucket] {
		if v, ok := m.lookup(bucket, k); ok {
			out[k] = bytes.Clone(v.b)
		}
	}
	return out, nil
}

// Append implements Store.
func (m *Memory) Append(_ context.Context, list string, value []byte, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := append(m.lists[list], bytes.Clone(value))
	if keep > 0 && len(l) > keep {
		l = l[len(l)-keep:]
	}
	m.lists[list] = l
	return nil
}

// Tail implements Store.
func (m *Memory) Tail(_ context.Context, list string, n int) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lists[list]
	var out [][]byte
	for i := len(l) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, bytes.Clone(l[i]))
	}
	return out, nil
}

// Close implements Store.
func (m *Memory) Close() error { return nil }
