// Package cache holds what a warm function remembers between requests:
// values read for a short while (Map) and which shards of a stock were
// found empty (EmptyShards). Both are safe for concurrent use and take the
// time from the caller, so a request's own clock (and a test's) decides
// what is fresh.
package cache

import (
	"context"
	"sync"
	"time"
)

// DefaultMax is how many keys a cache holds before it drops them all: a
// flood of unknown ids must not grow a warm function's memory forever.
const DefaultMax = 10_000

// Map keeps values by key for TTL. A value stamped later than the time it
// is read at still counts as fresh: requests in flight read the clock at
// slightly different moments. The zero Map (TTL 0) keeps nothing fresh but
// such a value.
type Map[K comparable, V any] struct {
	TTL time.Duration

	mu      sync.Mutex
	entries map[K]stamped[V]
}

type stamped[V any] struct {
	v  V
	at time.Time
}

// NewMap keeps values for ttl.
func NewMap[K comparable, V any](ttl time.Duration) *Map[K, V] {
	return &Map[K, V]{TTL: ttl}
}

// Get returns the value kept for k if it is younger than TTL at now.
func (c *Map[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || now.Sub(e.at) >= c.TTL {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps v for k as read at now.
func (c *Map[K, V]) Put(k K, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= DefaultMax {
		c.entries = map[K]stamped[V]{}
	}
	c.entries[k] = stamped[V]{v: v, at: now}
}

// Forget drops k, so this process sees a change at once.
func (c *Map[K, V]) Forget(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}

// Load returns the value kept for k if fresh at now, or else what load
// returns, kept as read at now. An error is returned and not kept, so the
// next call tries again. Concurrent misses may each load: a few extra reads
// are cheaper than making requests wait on one another.
func (c *Map[K, V]) Load(ctx context.Context, k K, now time.Time, load func(context.Context) (V, error)) (V, error) {
	if v, ok := c.Get(k, now); ok {
		return v, nil
	}
	v, err := load(ctx)
	if err != nil {
		var zero V
		return zero, err
	}
	c.Put(k, v, now)
	return v, nil
}
