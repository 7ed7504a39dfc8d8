package api

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/stream"
)

func (s *stack) stats(tenant string) reply {
	s.t.Helper()
	r := s.do(call{fn: s.referralAdminFn(), route: "GET /v1/admin/stats", as: couponAdmin(tenant)})
	require.Equal(s.t, 200, r.Status, r.Body)
	return r
}

// The stats after a scripted flow are exact, and stay so however often the
// stream delivers its records.
func TestStatsAfterAScriptedFlow(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.rewardRules("clinic-a")
	alice, erin := patient("clinic-a", "alice"), patient("clinic-a", "erin")
	code := s.codeOf(alice)
	for range 3 {
		r := s.do(call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": code}})
		require.Equal(t, 204, r.Status, r.Body)
		r = s.do(call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": code}})
		require.Equal(t, 200, r.Status, r.Body) // a read: counts nothing
	}
	// Opens of codes that do not exist count nowhere.
	for _, unknown := range []string{"ZZZZZZZZZ", "not-a-code!"} {
		r := s.do(call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": unknown}})
		require.Equal(t, 204, r.Status, r.Body)
	}
	bob, carol, dave := s.referralBound(alice, "bob"), s.referralBound(alice, "carol"), s.referralBound(alice, "dave")
	frank := s.referralBound(erin, "frank")
	s.referralBound(erin, "gina") // bound, never comes
	for i, friend := range []who{bob, carol, dave, frank} {
		require.Equal(t, "QUALIFIED", s.visited(fmt.Sprintf("HIS-%d", i), friend))
	}
	drainHooks(t, s)
	require.Equal(t, 200, s.refund("clinic-a", "HIS-2").Status) // dave's, inside the hold
	clock.Advance(7*24*time.Hour + time.Minute)
	require.Equal(t, 6, s.release(), "bob's, carol's and frank's rewards, two each")
	require.Equal(t, 200, s.refund("clinic-a", "HIS-1").Status) // carol's, after release: not reversed

	// Group-buy events as the group-buy function records them.
	store := dynamo.HookStore{Store: s.deps.Store}
	for _, e := range []event.Event{
		event.New(event.GroupOpened, "clinic-a", clock.Now(), map[string]any{"groupId": "G1", "dealId": "duo", "leaderId": "alice"}),
		event.New(event.GroupJoined, "clinic-a", clock.Now(), map[string]any{"groupId": "G1", "dealId": "duo", "userId": "bob"}),
		event.New(event.GroupSucceeded, "clinic-a", clock.Now(), map[string]any{"groupId": "G1", "dealId": "duo", "members": []any{}}),
		event.New(event.GroupOpened, "clinic-a", clock.Now(), map[string]any{"groupId": "G2", "dealId": "trio.v2", "leaderId": "carol"}),
		event.New(event.GroupOpened, "clinic-a", clock.Now(), map[string]any{"groupId": "G3", "dealId": "trio.v2", "leaderId": "dave"}),
		event.New(event.GroupJoined, "clinic-a", clock.Now(), map[string]any{"groupId": "G2", "dealId": "trio.v2", "userId": "bob"}),
		event.New(event.GroupFailed, "clinic-a", clock.Now(), map[string]any{"groupId": "G2", "dealId": "trio.v2", "members": []any{}}),
		event.New(event.CouponRedeemed, "clinic-a", clock.Now(), map[string]any{"couponCode": "X", "dealId": "duo", "userId": "bob"}),
		event.New(event.CouponRedeemed, "clinic-a", clock.Now(), map[string]any{"couponCode": "Y", "userId": "bob"}), // no voucher
		event.New(event.ReferralBound, "clinic-b", clock.Now(), map[string]any{"referrerId": "x", "refereeId": "y"}),
	} {
		require.NoError(t, store.RecordEvent(context.Background(), e))
	}
	drainHooks(t, s)

	want := `{
		"referral": {"clicks": 3, "binds": 5, "qualified": 4, "rewarded": 3, "reversed": 1},
		"deals": [
			{"dealId": "duo", "opened": 1, "joins": 1, "succeeded": 1, "failed": 0, "vouchersRedeemed": 1},
			{"dealId": "trio.v2", "opened": 2, "joins": 1, "succeeded": 0, "failed": 1, "vouchersRedeemed": 0}
		],
		"topReferrers": [{"displayName": "张***", "qualified": 2}, {"displayName": "张***", "qualified": 1}]
	}`
	got := s.stats("clinic-a")
	require.JSONEq(t, want, got.Body)
	require.Equal(t, 1, got.Calls.Reads(), "one call: %v", got.Calls.Ops())
	require.Equal(t, 0, got.Calls.Writes())
	require.NotContains(t, got.Body, "alice", "ids stay inside")

	// Every record delivered again, to two racing functions: nothing counts twice.
	again := lambdaEvents(s.streamedEventRecords())
	require.Greater(t, len(again.Records), 30)
	var wg sync.WaitGroup
	for _, h := range []func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error){
		stream.Hooks(s.deps), stream.Hooks(app.DepsWith(s.deps.Store.DB, s.deps.Config, s.deps.Log)),
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h(context.Background(), again)
			require.NoError(t, err)
			require.Empty(t, resp.BatchItemFailures)
		}()
	}
	wg.Wait()
	require.JSONEq(t, want, s.stats("clinic-a").Body)
	require.JSONEq(t, `{"referral":{"clicks":0,"binds":1,"qualified":0,"rewarded":0,"reversed":0},"deals":[],"topReferrers":[]}`,
		s.stats("clinic-b").Body, "each clinic its own")

	for _, as := range []who{patient("clinic-a", "p"), staff("clinic-a", "d")} {
		r := s.do(call{fn: s.referralAdminFn(), route: "GET /v1/admin/stats", as: as})
		require.Equal(t, 403, r.Status)
	}
}

// streamedEventRecords reads the whole stream afresh and returns the
// records of every new event item and opened link, as the hooks function
// receives them.
func (s *stack) streamedEventRecords() []events.DynamoDBEventRecord {
	s.t.Helper()
	var mu sync.Mutex
	var out []events.DynamoDBEventRecord
	p := s.newStreamPoller(func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			if _, ok, err := dynamo.StreamEvent(r); err == nil && ok {
				out = append(out, r)
			}
			if _, ok, err := dynamo.StreamOpen(r); err == nil && ok {
				out = append(out, r)
			}
		}
		return events.DynamoDBEventResponse{}, nil
	})
	for {
		n, err := p.PollOnce(context.Background())
		require.NoError(s.t, err)
		if n == 0 {
			return out
		}
	}
}
