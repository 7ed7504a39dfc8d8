package hook

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/tenant"
)

type fakeMilestones struct {
	ms        []tenant.Milestone
	qualified int
}

func (f fakeMilestones) Milestones(context.Context, string) ([]tenant.Milestone, error) {
	return f.ms, nil
}
func (f fakeMilestones) QualifiedFriends(context.Context, string, string) (int, error) {
	return f.qualified, nil
}

func qualifiedEvent(rewardable bool) event.Event {
	return event.New(event.ReferralQualified, "clinic-a", time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC), map[string]any{
		"referrerId": "alice", "refereeId": "bob", "visitId": "HIS-1", "rewardable": rewardable,
		"releaseAt": "2026-11-10T09:00:00Z",
	})
}

func TestReferralRewardsAreHeld(t *testing.T) {
	rules := []Rule{
		{ID: "to-referrer", Event: event.ReferralQualified, IssueCoupon: &IssueCoupon{TemplateID: "thanks", To: Referrer}},
		{ID: "to-referee", Event: event.ReferralQualified, IssueCoupon: &IssueCoupon{TemplateID: "welcome", To: Referee}},
	}
	d, _, is := newDispatcher(rules...)
	e := qualifiedEvent(true)
	require.NoError(t, d.Dispatch(context.Background(), e))
	require.Len(t, is.issued, 2)
	r := is.issued[Effect(e.ID, "to-referee", "bob")]
	require.Equal(t, coupon.FromReferral, r.Source)
	require.Equal(t, &coupon.Hold{Until: time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC), VisitID: "HIS-1", RefereeID: "bob", ReferrerID: "alice"}, r.Hold)

	d, _, is = newDispatcher(rules...)
	require.NoError(t, d.Dispatch(context.Background(), qualifiedEvent(false)))
	require.Empty(t, is.issued, "over the monthly cap: no reward to either side")

	// Other events' rules are not held.
	d, _, is = newDispatcher(Rule{ID: "r", Event: event.ReferralBound, IssueCoupon: &IssueCoupon{TemplateID: "t", To: Referrer}})
	require.NoError(t, d.Dispatch(context.Background(), event.New(event.ReferralBound, "clinic-a", time.Now(), map[string]any{"referrerId": "alice"})))
	for _, r := range is.issued {
		require.Nil(t, r.Hold)
		require.Equal(t, coupon.FromHook, r.Source)
	}
}

func TestMilestones(t *testing.T) {
	ms := []tenant.Milestone{{Count: 3, TemplateID: "bonus-3"}, {Count: 5, TemplateID: "bonus-5"}}
	tests := []struct {
		name      string
		qualified int
		want      []string
	}{
		{"below the first", 2, nil},
		{"at the first", 3, []string{"bonus-3"}},
		{"past both at once", 6, []string{"bonus-3", "bonus-5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, is := newDispatcher()
			d.Milestones = fakeMilestones{ms: ms, qualified: tt.qualified}
			e := qualifiedEvent(false) // milestones do not depend on the cap
			require.NoError(t, d.Dispatch(context.Background(), e))
			require.NoError(t, d.Dispatch(context.Background(), qualifiedEvent(false)), "another qualification")
			var got []string
			for effect, r := range is.issued {
				require.Equal(t, MilestoneEffect("clinic-a", "alice", map[string]int{"bonus-3": 3, "bonus-5": 5}[r.TemplateID]), effect)
				require.Equal(t, "alice", r.UserID)
				require.NotNil(t, r.Hold)
				got = append(got, r.TemplateID)
			}
			require.ElementsMatch(t, tt.want, got, "each once, whatever event reached it")
		})
	}
}

func TestContribution(t *testing.T) {
	at := time.Now()
	tests := []struct {
		e     event.Event
		want  map[string]int64
		delta int64
	}{
		{event.New(event.ReferralClicked, "t", at, map[string]any{"code": "C"}), map[string]int64{CountClicks: 1}, 0},
		{event.New(event.ReferralBound, "t", at, map[string]any{"referrerId": "a"}), map[string]int64{CountBinds: 1}, 0},
		{event.New(event.ReferralQualified, "t", at, map[string]any{"referrerId": "a", "refereeId": "b"}), map[string]int64{CountQualified: 1}, 1},
		{event.New(referral.RewardedEvent, "t", at, map[string]any{"referrerId": "a"}), map[string]int64{CountRewarded: 1}, 0},
		{event.New(event.ReferralReversed, "t", at, map[string]any{"referrerId": "a", "refereeId": "b"}), map[string]int64{CountReversed: 1}, -1},
		{event.New(event.GroupOpened, "t", at, map[string]any{"dealId": "d"}), map[string]int64{"deal#d#opened": 1}, 0},
		{event.New(event.GroupJoined, "t", at, map[string]any{"dealId": "d"}), map[string]int64{"deal#d#joins": 1}, 0},
		{event.New(event.GroupSucceeded, "t", at, map[string]any{"dealId": "d"}), map[string]int64{"deal#d#succeeded": 1}, 0},
		{event.New(event.GroupFailed, "t", at, map[string]any{"dealId": "d"}), map[string]int64{"deal#d#failed": 1}, 0},
		{event.New(event.CouponRedeemed, "t", at, map[string]any{"dealId": "d"}), map[string]int64{"deal#d#vouchersRedeemed": 1}, 0},
		{event.New(event.CouponRedeemed, "t", at, map[string]any{"couponCode": "X"}), nil, 0},
		{event.New(event.CouponIssued, "t", at, map[string]any{"dealId": "d"}), nil, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.e.Type), func(t *testing.T) {
			c, ok := Contribution(tt.e)
			require.Equal(t, tt.want != nil, ok)
			if ok {
				require.Equal(t, tt.want, c.Counters)
				require.Equal(t, tt.delta, c.ReferrerDelta)
				require.Equal(t, tt.e.ID, c.EventID)
			}
		})
	}
}

func TestStatsSummary(t *testing.T) {
	v := summaryOf(Counters{
		Totals: map[string]int64{
			CountClicks: 9, CountQualified: 2, "deal#b.2#joins": 4, "deal#a#opened": 1, "deal#a#vouchersRedeemed": 1,
		},
		Referrers: map[string]int64{"u1": 1, "u2": 3, "u3": 0, "u4": 1},
		Names:     map[string]string{"u1": "王*", "u2": "L***", "u4": "张*"},
	})
	require.Equal(t, ReferralFunnel{Clicks: 9, Qualified: 2}, v.Referral)
	require.Equal(t, []DealFunnel{{DealID: "a", Opened: 1, VouchersRedeemed: 1}, {DealID: "b.2", Joins: 4}}, v.Deals)
	require.Equal(t, []TopReferrer{{"L***", 3}, {"王*", 1}, {"张*", 1}}, v.TopReferrers, "by count, none at zero")

	empty := summaryOf(Counters{})
	require.NotNil(t, empty.Deals)
	require.NotNil(t, empty.TopReferrers)
}

// A side of a referral that was clinic staff as it qualified gets none of
// its rewards, milestone bonuses included; the other side gets theirs.
func TestStaffSideEarnsNoReferralReward(t *testing.T) {
	rules := []Rule{
		{ID: "to-referrer", Event: event.ReferralQualified, IssueCoupon: &IssueCoupon{TemplateID: "thanks", To: Referrer}},
		{ID: "to-referee", Event: event.ReferralQualified, IssueCoupon: &IssueCoupon{TemplateID: "welcome", To: Referee}},
	}
	tests := []struct {
		name      string
		data      map[string]any // added to a rewardable referral.qualified
		want      []string       // rewarded user ids
		milestone bool
	}{
		{"neither side staff", nil, []string{"alice", "bob"}, true},
		{"older events say nothing: both earn", map[string]any{}, []string{"alice", "bob"}, true},
		{"staff referrer", map[string]any{"referrerEligible": false}, []string{"bob"}, false},
		{"staff referee", map[string]any{"refereeEligible": false}, []string{"alice"}, true},
		{"both staff", map[string]any{"referrerEligible": false, "refereeEligible": false, "rewardable": false}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, is := newDispatcher(rules...)
			d.Milestones = fakeMilestones{ms: []tenant.Milestone{{Count: 1, TemplateID: "bonus-1"}}, qualified: 1}
			e := qualifiedEvent(true)
			for k, v := range tt.data {
				e.Data[k] = v
			}
			require.NoError(t, d.Dispatch(context.Background(), e))
			var got []string
			milestone := false
			for _, r := range is.issued {
				if r.TemplateID == "bonus-1" {
					milestone = true
					continue
				}
				got = append(got, r.UserID)
			}
			require.ElementsMatch(t, tt.want, got)
			require.Equal(t, tt.milestone, milestone, "the referrer's milestone bonus")
		})
	}
}
