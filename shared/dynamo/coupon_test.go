package dynamo

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/coupon"
)

// Admins who replace one template at once, each from the same stored
// version, race: one save lands and every other reports it lost (saved
// false) without writing, so no raise is added twice nor on top of another.
func TestSaveTemplateLostRace(t *testing.T) {
	s := CouponStore{Store: newGroupStore(t).Store}
	ctx := context.Background()
	first := coupon.Template{Tenant: "clinic-a", ID: "flash", Title: "立减", Kind: coupon.Cash, ValueFen: 500,
		ValidDays: 30, Stock: 100, Shards: coupon.ShardsFor(100), PerUserLimit: 1, Claimable: true, UpdatedAt: t0}
	saved, err := s.SaveTemplate(ctx, first, nil, nil)
	require.NoError(t, err)
	require.True(t, saved)

	const admins = 12
	var wins atomic.Int32
	var winner atomic.Int64
	var wg sync.WaitGroup
	for i := range admins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raised := first
			raised.Stock = first.Stock + 10*int64(i%4+1) // duplicates included: admins sending the same raise
			adds, err := raised.Replacing(first)
			require.NoError(t, err)
			saved, err := s.SaveTemplate(ctx, raised, &first, adds)
			require.NoError(t, err)
			if saved {
				wins.Add(1)
				winner.Store(raised.Stock)
			}
		}()
	}
	wg.Wait()

	require.EqualValues(t, 1, wins.Load(), "exactly one replace from the same version lands")
	stored, err := s.Template(ctx, "clinic-a", "flash")
	require.NoError(t, err)
	require.Equal(t, winner.Load(), stored.Stock)
	var left int64
	for n := range first.Shards {
		var shard shardItem
		found, err := s.getItemConsistent(ctx, shardKey("clinic-a", "flash", n), &shard)
		require.NoError(t, err)
		require.True(t, found)
		left += shard.Left
	}
	require.Equal(t, stored.Stock, left, "the shards hold the winner's raise once, and no other")

	again, err := s.SaveTemplate(ctx, first, &first, nil)
	require.NoError(t, err)
	require.False(t, again, "a save from a version no longer stored writes nothing")
}
