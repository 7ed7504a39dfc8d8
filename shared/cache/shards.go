package cache

import (
	"math/rand/v2"
	"sync"
	"time"
)

// EmptyShards remembers which shards of a sharded stock were found empty,
// so a warm function sends claims to shards that still hold units and
// answers a sold-out stock without a write: near sell-out each empty shard
// costs one refused write per function instance.
type EmptyShards[K comparable] struct {
	// Remember is how long a shard stays known empty; 0 or less: for as long
	// as the key is used (a stock that fills again must then change its key).
	Remember time.Duration

	mu    sync.Mutex
	empty map[K]map[int]time.Time // key → shard → when found empty
}

// Pick returns a random shard of n not known to be empty at now; ok is false
// when every shard is (or n is not positive).
func (m *EmptyShards[K]) Pick(k K, n int, now time.Time) (shard int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	known := m.empty[k]
	candidates := make([]int, 0, max(n, 0))
	for i := 0; i < n; i++ {
		if at, isEmpty := known[i]; isEmpty && m.remembered(at, now) {
			continue
		}
		candidates = append(candidates, i)
	}
	if len(candidates) == 0 {
		return 0, false
	}
	return candidates[rand.IntN(len(candidates))], true
}

// remembered says whether a mark made at at still holds at now. A mark from
// a moment "after" now (another request's clock read) counts.
func (m *EmptyShards[K]) remembered(at, now time.Time) bool {
	return m.Remember <= 0 || now.Sub(at) < m.Remember
}

// Empty records that the shard had nothing left at now.
func (m *EmptyShards[K]) Empty(k K, shard int, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.empty == nil || (m.empty[k] == nil && len(m.empty) >= DefaultMax) {
		m.empty = map[K]map[int]time.Time{}
	}
	if m.empty[k] == nil {
		m.empty[k] = map[int]time.Time{}
	}
	if at, ok := m.empty[k][shard]; !ok || now.After(at) {
		m.empty[k][shard] = now
	}
}

// Forget drops what is known of a key's shards (its stock changed).
func (m *EmptyShards[K]) Forget(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.empty, k)
}
