package groupbuy

import (
	"math/rand/v2"
	"sync"
	"time"
)

// SeatShards chooses the seat shard a room or join takes its seat from. A
// shard found empty is remembered as such for a while in the warm function,
// so near sell-out each empty shard costs one refused write per function
// instance, and a deal whose shards are all known empty answers SOLD_OUT
// without a write. The memory lapses, because a failed room gives seats
// back and an admin may add stock.
type SeatShards struct {
	Remember time.Duration

	mu    sync.Mutex
	empty map[string]map[int]time.Time // deal → shard → when found empty
}

// NewSeatShards remembers empty shards for d.
func NewSeatShards(d time.Duration) *SeatShards {
	return &SeatShards{Remember: d, empty: map[string]map[int]time.Time{}}
}

// Pick returns a random shard of n not known to be empty at now; ok is false
// when every shard is.
func (s *SeatShards) Pick(deal string, n int, now time.Time) (shard int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	known := s.empty[deal]
	candidates := make([]int, 0, n)
	for i := 0; i < n; i++ {
		// A mark from a moment "after" now (another request's clock read)
		// counts: requests in flight read the clock at slightly different times.
		if at, isEmpty := known[i]; isEmpty && now.Sub(at) < s.Remember {
			continue
		}
		candidates = append(candidates, i)
	}
	if len(candidates) == 0 {
		return 0, false
	}
	return candidates[rand.IntN(len(candidates))], true
}

// Empty records that the shard had no seat at now.
func (s *SeatShards) Empty(deal string, shard int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.empty[deal] == nil {
		s.empty[deal] = map[int]time.Time{}
	}
	if at, ok := s.empty[deal][shard]; !ok || now.After(at) {
		s.empty[deal][shard] = now
	}
}

// Forget drops what is known of a deal's shards (its stock changed).
func (s *SeatShards) Forget(deal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.empty, deal)
}

// DealCache keeps deals for a few seconds, so a warm open reads no
// configuration (docs/DESIGN.md: configuration may be cached briefly).
type DealCache struct {
	TTL time.Duration

	mu    sync.Mutex
	deals map[string]cachedDeal
}

type cachedDeal struct {
	d  Deal
	at time.Time
}

// NewDealCache caches deals for ttl.
func NewDealCache(ttl time.Duration) *DealCache {
	return &DealCache{TTL: ttl, deals: map[string]cachedDeal{}}
}

// Get returns the cached deal if it is younger than TTL at now.
func (c *DealCache) Get(key string, now time.Time) (Deal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.deals[key]
	if !ok || now.Sub(e.at) >= c.TTL || now.Before(e.at) {
		return Deal{}, false
	}
	return e.d, true
}

// Put caches d as read at now.
func (c *DealCache) Put(key string, d Deal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deals[key] = cachedDeal{d: d, at: now}
}

// Forget drops a deal (the admin replaced it).
func (c *DealCache) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.deals, key)
}

func dealKey(tenant, dealID string) string { return tenant + "/" + dealID }
