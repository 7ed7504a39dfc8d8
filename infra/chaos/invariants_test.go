package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/event"
)

// calmTable is the table after a little of everything, without faults:
// referrals with their rewards, a claim redeemed, a room that succeeded
// and one that failed, settled by the closer, the stream handled.
func calmTable(t *testing.T) *calmSnapshot {
	t.Helper()
	db := ddbtest.New(t)
	sys := newSystem(db.Endpoint, db.Table, db.Client, db.Client)
	setUp(t, sys)
	sys.timeout = time.Minute
	c := &client{sys: sys, rng: rand.New(rand.NewPCG(1, 1)), maxAttempts: 1, log: &ledger{}}
	ctx := context.Background()
	must := func(op string, r request) outcome {
		o := c.do(ctx, op, r)
		require.True(t, o.ok(), "%s: %d %s", r.route, o.status, o.body)
		return o
	}
	alice, bob, carol, dave := patientOf(clinic, "alice"), patientOf(clinic, "bob"), patientOf(clinic, "carol"), patientOf(clinic, "dave")
	code := must("code", request{fn: "referral", route: "POST /v1/referral/code", as: alice}).json()["code"].(string)
	for _, as := range []claims{bob, carol} {
		must("bind", request{fn: "referral", route: "POST /v1/referral/bind", body: fmt.Sprintf(`{"code":%q}`, code), as: as})
	}
	coupon := must("claim", request{fn: "coupons", route: "POST /v1/coupons/claim", body: `{"templateId":"welcome"}`, as: bob}).json()["couponCode"].(string)
	must("redeem", request{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": coupon}, as: staffOf(clinic, "desk0")})
	room := must("open", request{fn: "groupbuy", route: "POST /v1/groups", body: `{"dealId":"duo"}`, as: alice}).json()["groupId"].(string)
	must("join", request{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", params: map[string]string{"groupId": room}, as: bob})
	must("open", request{fn: "groupbuy", route: "POST /v1/groups", body: `{"dealId":"trio"}`, as: dave})
	sys.clock.Advance(10 * time.Minute)
	var closer closerTally
	settled, clean := closer.run(sys, 1)
	require.True(t, clean)
	require.Equal(t, 1, settled, "the trio room; the duo room succeeded when it filled")
	require.Equal(t, 1, closer.failed)
	require.True(t, sys.newHooksConsumer(t, sys.deps).drain(ctx, 50))

	items, err := ScanItems(ctx, db.Client, db.Table)
	require.NoError(t, err)
	return &calmSnapshot{items: items, outcomes: c.log.all()}
}

type calmSnapshot struct {
	items    []map[string]types.AttributeValue
	outcomes []outcome
}

func (c *calmSnapshot) table(t *testing.T) *Table {
	t.Helper()
	tab, err := Read(c.items)
	require.NoError(t, err)
	return tab
}

// TestCheckFindsEachViolation breaks a calm table in one way at a time:
// Check must name the broken invariant, and nothing on the calm one.
func TestCheckFindsEachViolation(t *testing.T) {
	t.Parallel()
	calm := calmTable(t)
	settled := Settled{Rooms: true, Stream: true}
	tab := calm.table(t)
	require.Empty(t, tab.Check(settled))
	ledger, _ := checkLedger(tab, calm.outcomes)
	require.Empty(t, ledger)
	require.Equal(t, 1, tab.Counts()["rooms.succeeded"])
	require.Equal(t, 1, tab.Counts()["rooms.failed"])
	require.Equal(t, 1, tab.Counts()["coupons.redeemed"])
	require.Equal(t, 7, tab.Counts()["coupons.rewards"], "thanks ×2 and gift ×2 for the bindings, thanks for the redemption, 2 vouchers")

	roomWith := func(tab *Table, status string) string {
		for id, r := range tab.Rooms {
			if r.Status == status {
				return id
			}
		}
		t.Fatalf("no %s room", status)
		return ""
	}
	firstEvent := func(tab *Table, typ event.Type) event.Event {
		for _, e := range tab.Events {
			if e.Type == typ {
				return e
			}
		}
		t.Fatalf("no %s event", typ)
		return event.Event{}
	}
	copies := 0
	copyEvent := func(tab *Table, e event.Event) {
		copies++
		e.ID = fmt.Sprintf("%s-copy%d", e.ID, copies)
		tab.Events[e.ID] = e
	}
	tests := []struct {
		name   string
		break_ func(tab *Table)
		want   string
	}{
		{"a member too many", func(tab *Table) {
			id := roomWith(tab, succeeded)
			r := tab.Rooms[id]
			r.Members = append(r.Members, RoomMember{UserID: "mallory"})
			r.Joined++
			tab.Rooms[id] = r
			tab.Members = append(tab.Members, Member{GroupID: id, UserID: "mallory"})
		}, RoomOverSize},
		{"joined disagrees with the roster", func(tab *Table) {
			id := roomWith(tab, succeeded)
			r := tab.Rooms[id]
			r.Joined--
			tab.Rooms[id] = r
		}, RoomOverSize},
		{"a member twice", func(tab *Table) {
			id := roomWith(tab, failed)
			r := tab.Rooms[id]
			r.Members = append(r.Members, r.Members[0])
			r.Members[1].Leader = false
			r.Joined++
			tab.Rooms[id] = r
		}, DuplicateMember},
		{"a member item without its roster entry", func(tab *Table) {
			tab.Members = append(tab.Members, Member{GroupID: roomWith(tab, succeeded), UserID: "mallory"})
		}, OrphanSeat},
		{"a seat over the shard's cap", func(tab *Table) {
			for i, sh := range tab.SeatShards {
				if sh.Taken > 0 {
					tab.SeatShards[i].Cap = sh.Taken - 1
				}
			}
		}, SeatStock},
		{"more seats than the stock", func(tab *Table) {
			for k, d := range tab.Deals {
				d.Stock = 0
				tab.Deals[k] = d
			}
		}, SeatStock},
		{"a seat nobody holds", func(tab *Table) {
			tab.SeatShards[0].Taken++
		}, OrphanSeat},
		{"a failed room's seat kept", func(tab *Table) {
			id := roomWith(tab, failed)
			r := tab.Rooms[id]
			r.Status = succeeded
			r.MinSize = 1
			tab.Rooms[id] = r
		}, SeatStock},
		{"a standing not given back", func(tab *Table) {
			for k := range tab.DealUses {
				tab.DealUses[k]++
				return
			}
		}, OrphanSeat},
		{"succeeded short of its minimum", func(tab *Table) {
			id := roomWith(tab, succeeded)
			r := tab.Rooms[id]
			r.MinSize = 3
			tab.Rooms[id] = r
		}, RoomOutcome},
		{"still open after the closer", func(tab *Table) {
			id := roomWith(tab, failed)
			r := tab.Rooms[id]
			r.Status, r.ExpShard, r.ExpAt = open, "EXP#01", r.ExpiresAt
			tab.Rooms[id] = r
		}, RoomOutcome},
		{"settled but left on the expiry index", func(tab *Table) {
			id := roomWith(tab, succeeded)
			r := tab.Rooms[id]
			r.ExpShard = "EXP#01"
			tab.Rooms[id] = r
		}, RoomOutcome},
		{"seatsTaken counted twice", func(tab *Table) {
			for k, d := range tab.Deals {
				d.SeatsTaken++
				tab.Deals[k] = d
			}
		}, SeatCount},
		{"stock taken without a coupon", func(tab *Table) {
			tab.StockShards[0].Left--
		}, CouponStock},
		{"stock below zero", func(tab *Table) {
			for i, sh := range tab.StockShards {
				if sh.TemplateID == thanksTemplate {
					tab.StockShards[i].Left = -1
				}
			}
		}, CouponStock},
		{"a claim over the limit", func(tab *Table) {
			for k := range tab.Claims {
				tab.Claims[k] = 2
			}
		}, CouponLimit},
		{"issued counted twice", func(tab *Table) {
			k := DealKey{clinic, welcomeTemplate}
			tp := tab.Templates[k]
			tp.Issued++
			tab.Templates[k] = tp
		}, IssuedCount},
		{"a coupon without its event", func(tab *Table) {
			e := firstEvent(tab, event.CouponIssued)
			delete(tab.Events, e.ID)
		}, CouponEvent},
		{"redeemed twice", func(tab *Table) {
			copyEvent(tab, firstEvent(tab, event.CouponRedeemed))
		}, RedeemedOnce},
		{"redeemed without being marked", func(tab *Table) {
			for code, c := range tab.Coupons {
				if c.Status == "REDEEMED" {
					c.Status = "ISSUED"
					tab.Coupons[code] = c
				}
			}
		}, RedeemedOnce},
		{"a reward issued twice", func(tab *Table) {
			var reward event.Event
			for _, e := range tab.Events {
				if e.Type == event.CouponIssued && e.Data["causeEventId"] != nil {
					reward = e
				}
			}
			c := tab.Coupons[reward.Data["couponCode"].(string)]
			c.Code += "2"
			tab.Coupons[c.Code] = c
			reward.Data = map[string]any{"couponCode": c.Code, "userId": c.UserID, "causeEventId": reward.Data["causeEventId"], "ruleId": reward.Data["ruleId"]}
			copyEvent(tab, reward)
		}, RewardOnce},
		{"a reward never given", func(tab *Table) {
			for fx := range tab.Effects {
				delete(tab.Effects, fx)
			}
		}, RewardGiven},
		{"a referee bound twice", func(tab *Table) {
			copyEvent(tab, firstEvent(tab, event.ReferralBound))
		}, ReferrerOnce},
		{"a friend entry under another referrer", func(tab *Table) {
			tab.Friends[0].ReferrerID = "mallory"
		}, ReferrerOnce},
		{"a loop", func(tab *Table) {
			tab.Bindings[UserKey{clinic, "alice"}] = Binding{Tenant: clinic, RefereeID: "alice", ReferrerID: "bob"}
		}, ReferralLoop},
		{"a code whose owner has another", func(tab *Table) {
			tab.UserCodes[UserKey{clinic, "alice"}] = "OTHERCODE"
		}, CodeOwner},
		{"qualified twice", func(tab *Table) {
			e := firstEvent(tab, event.ReferralBound)
			e.Type = event.ReferralQualified
			copyEvent(tab, e)
			copyEvent(tab, e)
		}, QualifiedOnce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := calm.table(t)
			tt.break_(tab)
			var names []string
			for _, v := range tab.Check(settled) {
				names = append(names, v.Invariant)
			}
			require.Contains(t, names, tt.want, "%v", tab.Check(settled))
		})
	}
}

// TestLedgerCheck holds a calm table against outcomes it does not show.
func TestLedgerCheck(t *testing.T) {
	t.Parallel()
	calm := calmTable(t)
	tab := calm.table(t)
	tests := []struct {
		name string
		add  outcome
		want string
	}{
		{"a claim answered 201 that is not there",
			outcome{op: "claim", status: 201, body: `{"couponCode":"NOSUCHCODE"}`, req: request{body: `{"templateId":"welcome"}`, as: patientOf(clinic, "carol")}},
			Acknowledged},
		{"a join answered 200 of someone not on the roster",
			outcome{op: "join", status: 200, body: `{}`, req: request{params: map[string]string{"groupId": "NOSUCHROOM"}, as: patientOf(clinic, "carol")}},
			Acknowledged},
		{"a retry taken for another request",
			outcome{op: "claim", status: 422, body: `{"error":{"code":"IDEMPOTENCY_KEY_REUSED"}}`, req: request{body: `{"templateId":"welcome"}`, as: patientOf(clinic, "carol")}},
			KeyReused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, _ := checkLedger(tab, append(append([]outcome(nil), calm.outcomes...), tt.add))
			require.Len(t, vs, 1, "%v", vs)
			require.Equal(t, tt.want, vs[0].Invariant)
		})
	}
	t.Run("a change nobody asked for", func(t *testing.T) {
		var others []outcome
		for _, o := range calm.outcomes {
			if o.op != "claim" {
				others = append(others, o)
			}
		}
		vs, _ := checkLedger(tab, others)
		require.Len(t, vs, 1, "%v", vs)
		require.Equal(t, Unexplained, vs[0].Invariant)
	})
	t.Run("a change made by a request that failed", func(t *testing.T) {
		var unsure []outcome
		for _, o := range calm.outcomes {
			if o.op == "claim" {
				o.status, o.body, o.failed = 500, `{}`, 1
			}
			unsure = append(unsure, o)
		}
		vs, gone := checkLedger(tab, unsure)
		require.Empty(t, vs, "a 5xx may have done the work")
		require.Equal(t, unseen{"claim": 1}, gone)
	})
}
