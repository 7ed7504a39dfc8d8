package groupbuy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
)

func TestShardsFor(t *testing.T) {
	tests := []struct{ stock, shards int }{
		{0, 1}, {1, 1}, {50, 1}, {51, 2}, {130, 3}, {2000, 40}, {3200, 64}, {4800, 96}, {1_000_000, 96},
	}
	for _, tt := range tests {
		require.Equal(t, tt.shards, ShardsFor(tt.stock), "stock %d", tt.stock)
	}
	// 20,000 joins/s on rooms of two take 40,000 seats/s (each join comes
	// with its room's open); over the shards of a deal that can take them
	// that stays under 1,000 write units a second a key on average, each
	// seat written twice in a transaction.
	require.Less(t, 40_000*2/ShardsFor(MaxStock), 1000)
	// A deal's save writes the deal and every shard in one transaction, and
	// reads them back in one TransactGetItems: 100 items at most.
	require.LessOrEqual(t, 1+MaxSeatShards, 100)
}

func TestAllotSeats(t *testing.T) {
	tests := []struct {
		name  string
		stock int
		taken []int
		caps  []int
	}{
		{"fresh, even", 100, []int{0, 0}, []int{50, 50}},
		{"fresh, remainder last", 130, []int{0, 0, 0}, []int{43, 43, 44}},
		{"keeps what is out", 100, []int{30, 0}, []int{65, 35}},
		{"cut below what is out", 20, []int{30, 5}, []int{20, 0}},
		{"cut to zero", 0, []int{3, 4}, []int{0, 0}},
		{"grown shards", 200, []int{2, 0, 0, 0}, []int{51, 49, 50, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := AllotSeats(tt.stock, tt.taken)
			require.Equal(t, tt.caps, caps)
			sum := 0
			for _, c := range caps {
				sum += c
				require.GreaterOrEqual(t, c, 0)
			}
			require.Equal(t, tt.stock, sum, "caps always sum to stock")
		})
	}
}

func ptr[T any](v T) *T { return &v }

func validSpec() DealSpec {
	return DealSpec{
		Title: "闺蜜卡", SKU: "SKU-1", PriceFen: ptr[int64](20000), GroupPriceFen: ptr[int64](10000),
		GroupSize: ptr(3), TTLSeconds: ptr(3600), Stock: ptr(10), PerUserLimit: ptr(1), NewcomersOnly: ptr(false),
	}
}

func TestDealSpec(t *testing.T) {
	s := validSpec()
	require.NoError(t, s.Valid())
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d := s.Deal("clinic-a", "d1", now)
	require.Equal(t, 3, d.MinSize, "minSize defaults to groupSize")
	require.Equal(t, int64(10000), d.LeaderPrice(), "the leader pays the group price unless set")
	d.LeaderPriceFen = ptr[int64](5000)
	require.Equal(t, int64(5000), d.LeaderPrice())
	require.True(t, d.ActiveAt(now))

	start, end := now.Add(time.Hour), now.Add(2*time.Hour)
	d.StartsAt, d.EndsAt = &start, &end
	require.False(t, d.ActiveAt(now))
	require.True(t, d.ActiveAt(start))
	require.False(t, d.ActiveAt(end), "endsAt is exclusive")

	d.Stock, d.SeatsTaken = 5, 7
	require.Equal(t, 0, d.Remaining(), "never below zero")

	bad := validSpec()
	bad.MinSize = ptr(4)
	err := bad.Valid()
	require.True(t, apierr.Is(apierr.BadRequest, err))
	require.Contains(t, apierr.Message(err), `"minSize"`)
}

func TestRoomRules(t *testing.T) {
	opened := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r := Room{
		GroupID: "G", LeaderID: "a", Size: 3, MinSize: 2, Joined: 2, Status: Open,
		ExpiresAt: expiryOf(opened.Add(300*time.Millisecond), 60),
		Members:   []Member{{UserID: "a", Name: "张*", Leader: true, Shard: 1}, {UserID: "b", Name: "L***", Shard: 0}},
	}
	require.Equal(t, opened.Add(60*time.Second), r.ExpiresAt, "whole seconds")

	before := r.ExpiresAt.Add(-1500 * time.Millisecond)
	require.Equal(t, Open, r.StatusAt(before))
	require.Equal(t, 2, r.SecondsLeft(before), "rounded up")
	require.NoError(t, r.Admits("c", before))
	require.Equal(t, apierr.AlreadyMember, apierr.KindOf(r.Admits("b", before)))

	at := r.ExpiresAt
	require.Equal(t, Closing, r.StatusAt(at), "expired is never shown OPEN")
	require.Equal(t, 0, r.SecondsLeft(at))
	require.Equal(t, apierr.GroupClosed, apierr.KindOf(r.Admits("c", at)), "closed at expiry, closer or not")

	require.Equal(t, Succeeded, r.Outcome())
	short := r
	short.Joined = 1
	require.Equal(t, Failed, short.Outcome())
	require.Equal(t, map[int]int{0: 1, 1: 1}, r.SeatsByShard())

	full := r
	full.Joined, full.Status = 3, Succeeded
	require.Equal(t, apierr.GroupFull, apierr.KindOf(full.Admits("c", before)))
	require.Equal(t, apierr.GroupFull, apierr.KindOf(full.Admits("c", at)), "full says full, even later")
	failed := r
	failed.Status = Failed
	require.Equal(t, apierr.GroupClosed, apierr.KindOf(failed.Admits("c", before)))
}

func TestSettledEvent(t *testing.T) {
	r := Room{
		GroupID: "G", Tenant: "t", DealID: "d", DealTitle: "闺蜜卡", LeaderID: "a",
		Members: []Member{{UserID: "a", Leader: true, PriceFen: 5000}, {UserID: "b", PriceFen: 8000}},
	}
	e := settledEvent(&r, Succeeded, time.Now())
	require.Equal(t, event.GroupSucceeded, e.Type)
	var data struct {
		GroupID, DealID, DealTitle, VoucherTemplateID string
		Members                                       []struct {
			UserID   string
			PriceFen int64
			Leader   bool
		}
	}
	require.NoError(t, throughJSON(e.Data, &data))
	require.Equal(t, "G", data.GroupID)
	require.Equal(t, "", data.VoucherTemplateID)
	require.Len(t, data.Members, 2)
	require.True(t, data.Members[0].Leader)
	require.Equal(t, int64(8000), data.Members[1].PriceFen)
	require.Equal(t, event.GroupFailed, settledEvent(&r, Failed, time.Now()).Type)
}

func TestSeatShards(t *testing.T) {
	s := NewSeatShards(5 * time.Second)
	now := time.Now()
	seen := map[int]bool{}
	for i := 0; i < 200; i++ {
		n, ok := s.Pick("d", 4, now)
		require.True(t, ok)
		seen[n] = true
	}
	require.Len(t, seen, 4, "random over all shards")

	for n := 0; n < 3; n++ {
		s.Empty("d", n, now)
	}
	for i := 0; i < 20; i++ {
		n, ok := s.Pick("d", 4, now.Add(-time.Millisecond))
		require.True(t, ok)
		require.Equal(t, 3, n, "only the shard not known empty, whoever read the clock first")
	}
	s.Empty("d", 3, now)
	_, ok := s.Pick("d", 4, now)
	require.False(t, ok, "all known empty: sold out without a write")
	_, ok = s.Pick("d", 5, now)
	require.True(t, ok, "a shard added since is tried")
	_, ok = s.Pick("d", 4, now.Add(5*time.Second))
	require.True(t, ok, "the memory lapses")
	s.Forget("d")
	_, ok = s.Pick("d", 4, now)
	require.True(t, ok)
}

func TestDealCache(t *testing.T) {
	c := NewDealCache(5 * time.Second)
	now := time.Now()
	_, ok := c.Get("t/d", now)
	require.False(t, ok)
	c.Put("t/d", Deal{DealID: "d"}, now)
	d, ok := c.Get("t/d", now.Add(4*time.Second))
	require.True(t, ok)
	require.Equal(t, "d", d.DealID)
	_, ok = c.Get("t/d", now.Add(5*time.Second))
	require.False(t, ok)
	c.Put("t/d", Deal{}, now)
	c.Forget("t/d")
	_, ok = c.Get("t/d", now)
	require.False(t, ok)
}

func ExampleAllotSeats() {
	// 60 seats were taken from shard 0 before the admin cut stock to 100.
	fmt.Println(AllotSeats(100, []int{60, 0, 0}))
	// Output: [73 13 14]
}

// refreshStore records RefreshSeats calls; the other methods are not used.
type refreshStore struct {
	Store
	calls []refreshCall
}

type refreshCall struct {
	tenant, dealID string
	since          time.Time
}

func (s *refreshStore) RefreshSeats(_ context.Context, tenant, dealID string, since time.Time) error {
	s.calls = append(s.calls, refreshCall{tenant, dealID, since})
	return nil
}

// A stream batch refreshes each deal whose seats its events changed once,
// however many events it holds: the deal's item is one key.
func TestRefreshRemainingOncePerDeal(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		evs  []event.Event
		want []refreshCall
	}{
		{"150 joins of one deal", repeat(150, func(i int) event.Event {
			return event.New(event.GroupJoined, "t", now, map[string]any{"dealId": "a", "userId": fmt.Sprint(i)})
		}), []refreshCall{{"t", "a", now}}},
		{"an open and a failed room of another deal, then a join", []event.Event{
			event.New(event.GroupOpened, "t", now, map[string]any{"dealId": "b"}),
			event.New(event.GroupFailed, "t", now, map[string]any{"dealId": "b", "members": []any{map[string]any{"userId": "x"}}}),
			event.New(event.GroupJoined, "t", now, map[string]any{"dealId": "a"}),
		}, []refreshCall{{"t", "b", now}, {"t", "a", now}}},
		{"the same deal id in two tenants", []event.Event{
			event.New(event.GroupOpened, "t", now, map[string]any{"dealId": "a"}),
			event.New(event.GroupOpened, "u", now, map[string]any{"dealId": "a"}),
		}, []refreshCall{{"t", "a", now}, {"u", "a", now}}},
		{"events that take no seat", []event.Event{
			event.New(event.GroupSucceeded, "t", now, map[string]any{"dealId": "b", "members": []any{}}),
			event.New(event.ReferralBound, "t", now, map[string]any{"referrerId": "r"}),
			event.New(event.GroupJoined, "t", now, map[string]any{"userId": "no deal"}),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &refreshStore{}
			svc := &Service{Store: store}
			require.NoError(t, svc.RefreshRemaining(context.Background(), now, tt.evs...))
			require.Equal(t, tt.want, store.calls)
		})
	}
}

func repeat(n int, f func(i int) event.Event) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = f(i)
	}
	return evs
}
