package groupbuy

import (
	"time"

	"github.com/laoyou/laoyou/shared/cache"
)

// SeatShards chooses the seat shard a room or join takes its seat from. A
// shard found empty is remembered as such for a while in the warm function,
// so near sell-out each empty shard costs one refused write per function
// instance, and a deal whose shards are all known empty answers SOLD_OUT
// without a write. The memory lapses, because a failed room gives seats
// back and an admin may add stock. Keys are dealKey's.
type SeatShards = cache.EmptyShards[string]

// NewSeatShards remembers empty shards for d.
func NewSeatShards(d time.Duration) *SeatShards {
	return &SeatShards{Remember: d}
}

// DealCache keeps deals for a few seconds, so a warm open reads no
// configuration (docs/DESIGN.md: configuration may be cached briefly). Keys
// are dealKey's.
type DealCache = cache.Map[string, Deal]

// NewDealCache caches deals for ttl.
func NewDealCache(ttl time.Duration) *DealCache {
	return cache.NewMap[string, Deal](ttl)
}

func dealKey(tenant, dealID string) string { return tenant + "/" + dealID }
