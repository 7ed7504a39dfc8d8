package api

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/dynamo"
)

// A refund inside the hold voids the held rewards and gives their units
// back to the templates' limited stock, in the same write; `remaining`
// follows once the stream is read. A repeated refund gives nothing twice.
func TestVoidedRewardsGiveTheirStockBack(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, id := range []string{"thanks", "welcome"} {
		s.putTemplate("clinic-a", id, map[string]any{"claimable": false, "stock": 10, "validDays": 30})
	}
	for id, body := range map[string]string{
		"referrer-reward": `{"event":"referral.qualified","issueCoupon":{"templateId":"thanks","to":"referrer"}}`,
		"referee-reward":  `{"event":"referral.qualified","issueCoupon":{"templateId":"welcome","to":"referee"}}`,
	} {
		r := s.putHook(couponAdmin("clinic-a"), id, body)
		require.Equal(t, 200, r.Status, r.Body)
	}
	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	require.Equal(t, "QUALIFIED", s.visited("HIS-1", bob))
	drainHooks(t, s)

	store := dynamo.CouponStore{Store: s.deps.Store}
	shards := coupon.ShardsFor(10)
	stock := func(id string) (left int64, issued int64) {
		for _, n := range s.stockLeft("clinic-a", id, shards) {
			left += n
		}
		tpl, err := store.Template(context.Background(), "clinic-a", id)
		require.NoError(t, err)
		return left, tpl.Issued
	}
	for _, id := range []string{"thanks", "welcome"} {
		left, issued := stock(id)
		require.Equal(t, [2]int64{9, 1}, [2]int64{left, issued}, "%s: one reward held", id)
	}

	for range 2 {
		r := s.refund("clinic-a", "HIS-1")
		require.Equal(t, 200, r.Status, r.Body)
		require.JSONEq(t, `{"visitId":"HIS-1","reversed":2}`, r.Body)
	}
	drainHooks(t, s)
	for _, id := range []string{"thanks", "welcome"} {
		left, issued := stock(id)
		require.Equal(t, [2]int64{10, 0}, [2]int64{left, issued}, "%s: its unit is back, once", id)
	}
	require.Equal(t, []string{"VOID"}, couponStatuses(s.myCoupons(alice)))
}
