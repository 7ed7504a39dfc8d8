package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/stream"
)

// referralAdminFn is the function that serves the settings and stats
// routes: the admin function once it lists them, else an API of those
// routes alone over the same Deps.
func (s *stack) referralAdminFn() string {
	for _, r := range s.apis["admin"].(*httpapi.API).Routes() {
		if r.Key == "GET /v1/admin/stats" {
			return "admin"
		}
	}
	if _, ok := s.apis["referral-admin"]; !ok {
		s.apis["referral-admin"] = httpapi.New(s.deps.Log,
			append(adminStatsRoutes(s.deps), adminSettingsRoutes(s.deps)...)...)
	}
	return "referral-admin"
}

func (s *stack) putSettings(tenant, body string) reply {
	return s.do(call{fn: s.referralAdminFn(), route: "PUT /v1/admin/settings", as: couponAdmin(tenant), body: body})
}

func (s *stack) settings(tenant string, body string) {
	s.t.Helper()
	r := s.putSettings(tenant, body)
	require.Equal(s.t, 200, r.Status, r.Body)
}

func (s *stack) visit(tenant, visitID string, user who, kind string, amountFen int) reply {
	body := fmt.Sprintf(`{"visitId":%q,"userId":%q,"kind":%q}`, visitID, user["sub"], kind)
	if amountFen > 0 {
		body = fmt.Sprintf(`{"visitId":%q,"userId":%q,"kind":%q,"amountFen":%d}`, visitID, user["sub"], kind, amountFen)
	}
	return s.do(call{fn: "referral", route: "POST /v1/staff/visits", as: staff(tenant, "desk-1"), body: body})
}

// visited reports a visit and returns the referral stage it answered ("" for
// none).
func (s *stack) visited(visitID string, user who) string {
	s.t.Helper()
	r := s.visit(user["tenant"], visitID, user, "treatment", 0)
	require.Equal(s.t, 200, r.Status, r.Body)
	ref, _ := r.JSON(s.t)["referral"].(map[string]any)
	stage, _ := ref["stage"].(string)
	return stage
}

func (s *stack) refund(tenant, visitID string) reply {
	return s.do(call{fn: "referral", route: "POST /v1/staff/visits/{visitId}/refund", as: staff(tenant, "desk-1"),
		params: map[string]string{"visitId": visitID}})
}

func (s *stack) release() int {
	s.t.Helper()
	n, err := s.deps.RewardReleaser().ReleaseDue(context.Background())
	require.NoError(s.t, err)
	return n
}

func (s *stack) me(as who) map[string]any {
	s.t.Helper()
	r := s.do(call{fn: "referral", route: "GET /v1/referral/me", as: as})
	require.Equal(s.t, 200, r.Status, r.Body)
	return r.JSON(s.t)
}

// stages maps each friend's masked name to their stage in the referrer's view.
func (s *stack) stages(referrer who) []string {
	s.t.Helper()
	var out []string
	for _, f := range s.me(referrer)["referrals"].([]any) {
		out = append(out, f.(map[string]any)["stage"].(string))
	}
	return out
}

// rewardRules sets up the clinic's referral rewards: a coupon to each side
// of a qualified referral.
func (s *stack) rewardRules(tenant string) {
	s.t.Helper()
	s.putTemplate(tenant, "thanks", map[string]any{"claimable": false, "stock": 0, "validDays": 30})
	s.putTemplate(tenant, "welcome", map[string]any{"claimable": false, "stock": 0, "validDays": 30})
	for id, body := range map[string]string{
		"referrer-reward": `{"event":"referral.qualified","issueCoupon":{"templateId":"thanks","to":"referrer"}}`,
		"referee-reward":  `{"event":"referral.qualified","issueCoupon":{"templateId":"welcome","to":"referee"}}`,
	} {
		r := s.putHook(couponAdmin(tenant), id, body)
		require.Equal(s.t, 200, r.Status, r.Body)
	}
}

func couponStatuses(cs []map[string]any) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c["status"].(string))
	}
	return out
}

func TestVisitReportedTwentyTimesQualifiesOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.rewardRules("clinic-a")
	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	s.deps.Settings.Get(context.Background(), "clinic-a") // settings are cached config

	replies := s.concurrently(20, func(int) call {
		return call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "desk-1"),
			body: `{"visitId":"HIS-1001","userId":"bob","kind":"treatment","amountFen":500000}`}
	})
	for _, r := range replies {
		require.Equal(t, 200, r.Status, r.Body)
		require.JSONEq(t, `{"visitId":"HIS-1001","referral":{"stage":"QUALIFIED"}}`, r.Body, "every report answers the first")
		require.Equal(t, 1, r.Calls.Reads(), "reads: %v", r.Calls.Ops())
		require.Equal(t, 1, r.Calls.Writes(), "writes: %v", r.Calls.Ops())
	}
	qualified := s.events(event.ReferralQualified)
	require.Len(t, qualified, 1, "one qualification")
	require.Equal(t, true, qualified[0].Data["rewardable"])
	require.Equal(t, "HIS-1001", qualified[0].Data["visitId"])

	drainHooks(t, s)
	drainHooks(t, s)
	for _, who := range []who{alice, bob} {
		mine := s.myCoupons(who)
		require.Len(t, mine, 1, "one reward for %s", who["sub"])
		require.Equal(t, "PENDING", mine[0]["status"], "held")
		require.Equal(t, "referral", mine[0]["source"])
	}
	require.Equal(t, []string{"QUALIFIED"}, s.stages(alice))

	// A later visit of the same friend changes nothing.
	require.Equal(t, "QUALIFIED", s.visited("HIS-1002", bob))
	require.Len(t, s.events(event.ReferralQualified), 1)
}

func TestMonthlyCapHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.rewardRules("clinic-a")
	s.settings("clinic-a", `{"monthlyCap":5}`)
	alice := patient("clinic-a", "alice")
	for i := range 2 {
		friend := s.referralBound(alice, fmt.Sprintf("early-%d", i))
		require.Equal(t, "QUALIFIED", s.visited(fmt.Sprintf("EARLY-%d", i), friend))
	}
	friends := make([]who, 10)
	for i := range friends {
		friends[i] = s.referralBound(alice, fmt.Sprintf("friend-%d", i))
	}
	replies := s.concurrently(10, func(i int) call {
		return call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "desk-1"),
			body: fmt.Sprintf(`{"visitId":"V-%d","userId":%q,"kind":"arrival"}`, i, friends[i]["sub"])}
	})
	for _, r := range replies {
		require.Equal(t, 200, r.Status, r.Body)
		require.JSONEq(t, `{"stage":"QUALIFIED"}`, mustJSON(t, r.JSON(t)["referral"]), "every friend qualifies")
	}
	rewardable := 0
	qualified := s.events(event.ReferralQualified)
	require.Len(t, qualified, 12)
	for _, e := range qualified {
		if e.Data["rewardable"] == true {
			rewardable++
		}
	}
	require.Equal(t, 5, rewardable, "2 before, and exactly the 3 left of the cap of 5")

	drainHooks(t, s)
	require.Len(t, s.myCoupons(alice), 5, "the referrer's rewards stop at the cap")
	rewardedFriends := 0
	for _, f := range friends {
		rewardedFriends += len(s.myCoupons(f))
	}
	require.Equal(t, 3, rewardedFriends, "a referral over the cap rewards neither side")

	// At the cap now: the next one is not rewardable either.
	late := s.referralBound(alice, "late")
	require.Equal(t, "QUALIFIED", s.visited("LATE", late))
	last := s.events(event.ReferralQualified)
	require.Equal(t, false, last[len(last)-1].Data["rewardable"])
}

func TestRefundInsideTheHold(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.rewardRules("clinic-a")
	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	require.Equal(t, "QUALIFIED", s.visited("HIS-1", bob))
	drainHooks(t, s)
	require.Equal(t, []string{"PENDING"}, couponStatuses(s.myCoupons(alice)))

	r := s.refund("clinic-a", "HIS-1")
	require.Equal(t, 200, r.Status, r.Body)
	require.JSONEq(t, `{"visitId":"HIS-1","reversed":2}`, r.Body)
	require.Equal(t, 1, r.Calls.Reads(), "reads: %v", r.Calls.Ops())
	require.Equal(t, 1, r.Calls.Writes(), "writes: %v", r.Calls.Ops())
	require.Equal(t, []string{"VOID"}, couponStatuses(s.myCoupons(alice)))
	require.Equal(t, []string{"VOID"}, couponStatuses(s.myCoupons(bob)))
	require.Equal(t, []string{"REVERSED"}, s.stages(alice))
	require.Equal(t, map[string]any{"bound": 1.0, "qualified": 0.0, "rewarded": 0.0}, s.me(alice)["counts"])
	require.Len(t, s.events(event.ReferralReversed), 1)

	again := s.refund("clinic-a", "HIS-1")
	require.Equal(t, 200, again.Status, again.Body)
	require.JSONEq(t, r.Body, again.Body, "a repeat answers the first refund")

	// The hold passes: nothing is released.
	clock.Advance(8 * 24 * time.Hour)
	require.Zero(t, s.release())
	require.Equal(t, []string{"VOID"}, couponStatuses(s.myCoupons(alice)))
	drainHooks(t, s)
	require.Len(t, s.myCoupons(alice), 1, "no reward comes again")
}

func TestRefundBeforeTheRewardsCome(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.rewardRules("clinic-a")
	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	require.Equal(t, "QUALIFIED", s.visited("HIS-1", bob))
	r := s.refund("clinic-a", "HIS-1")
	require.Equal(t, 200, r.Status, r.Body)
	require.JSONEq(t, `{"visitId":"HIS-1","reversed":0}`, r.Body)
	drainHooks(t, s) // the qualification's rewards arrive after the refund
	require.Empty(t, s.myCoupons(alice), "a refunded visit earns nothing")
	require.Empty(t, s.myCoupons(bob))
	require.Equal(t, []string{"REVERSED"}, s.stages(alice))
}

func TestRefundAfterRelease(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.rewardRules("clinic-a")
	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	require.Equal(t, "QUALIFIED", s.visited("HIS-1", bob))
	drainHooks(t, s)

	clock.Advance(7*24*time.Hour + time.Minute)
	require.Equal(t, 2, s.release())
	require.Equal(t, []string{"REWARDED"}, s.stages(alice))

	r := s.refund("clinic-a", "HIS-1")
	require.Equal(t, 200, r.Status, r.Body)
	require.JSONEq(t, `{"visitId":"HIS-1","reversed":0}`, r.Body)
	require.Equal(t, []string{"ISSUED"}, couponStatuses(s.myCoupons(alice)), "a released reward is not clawed back")
	require.Equal(t, []string{"ISSUED"}, couponStatuses(s.myCoupons(bob)))
	require.Equal(t, []string{"REWARDED"}, s.stages(alice), "its referral stays rewarded")
	require.Empty(t, s.events(event.ReferralReversed))
}

// A refund decided on a read that a release overtook is written again on a
// fresh read: the released reward stays ISSUED, and nothing is voided that
// the refund did not see pending.
func TestRefundRacingRelease(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.rewardRules("clinic-a")
	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	require.Equal(t, "QUALIFIED", s.visited("HIS-1", bob))
	drainHooks(t, s)
	store := dynamo.ReferralStore{Store: s.deps.Store}
	stale, err := store.VisitByID(context.Background(), "clinic-a", "HIS-1")
	require.NoError(t, err)
	require.Len(t, stale.Held, 2)

	clock.Advance(8 * 24 * time.Hour)
	require.Equal(t, 2, s.release())
	changed, err := store.Refund(context.Background(), referral.Refund{Visit: *stale, At: clock.Now(), Reverse: true})
	require.NoError(t, err)
	require.True(t, changed, "the visit moved on since it was read: nothing written")
	require.Equal(t, []string{"ISSUED"}, couponStatuses(s.myCoupons(alice)))

	r := s.refund("clinic-a", "HIS-1")
	require.Equal(t, 200, r.Status, r.Body)
	require.JSONEq(t, `{"visitId":"HIS-1","reversed":0}`, r.Body)
	require.Equal(t, []string{"ISSUED"}, couponStatuses(s.myCoupons(bob)))
	require.Equal(t, []string{"REWARDED"}, s.stages(alice))
}

func TestRefundErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	bob := patient("clinic-a", "bob")
	require.Equal(t, "", s.visited("HIS-1", bob))
	tests := []struct {
		name   string
		as     who
		visit  string
		status int
		errc   string
	}{
		{"unknown visit", staff("clinic-a", "desk"), "HIS-404", 404, "VISIT_NOT_FOUND"},
		{"another clinic's visit", staff("clinic-b", "desk"), "HIS-1", 404, "VISIT_NOT_FOUND"},
		{"malformed id", staff("clinic-a", "desk"), "a b", 404, "VISIT_NOT_FOUND"},
		{"patient", bob, "HIS-1", 403, "FORBIDDEN"},
		{"a plain visit", staff("clinic-a", "desk"), "HIS-1", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: "referral", route: "POST /v1/staff/visits/{visitId}/refund", as: tt.as, params: map[string]string{"visitId": tt.visit}})
			require.Equal(t, tt.status, r.Status, r.Body)
			if tt.errc != "" {
				require.Equal(t, tt.errc, r.Code(t))
			}
		})
	}
}

func TestVisitValidation(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	desk := staff("clinic-a", "desk")
	tests := []struct {
		name   string
		as     who
		body   string
		status int
		field  string
	}{
		{"arrival", desk, `{"visitId":"V1","userId":"u1","kind":"arrival"}`, 200, ""},
		{"treatment with amount", desk, `{"visitId":"V2","userId":"u1","kind":"treatment","amountFen":19900}`, 200, ""},
		{"admin may report", couponAdmin("clinic-a"), `{"visitId":"V3","userId":"u1","kind":"arrival"}`, 200, ""},
		{"patient may not", patient("clinic-a", "u1"), `{"visitId":"V4","userId":"u1","kind":"arrival"}`, 403, ""},
		{"no visit id", desk, `{"userId":"u1","kind":"arrival"}`, 400, "visitId"},
		{"bad visit id", desk, `{"visitId":"a b","userId":"u1","kind":"arrival"}`, 400, "visitId"},
		{"no user", desk, `{"visitId":"V5","kind":"arrival"}`, 400, "userId"},
		{"unknown kind", desk, `{"visitId":"V6","userId":"u1","kind":"consult"}`, 400, "kind"},
		{"negative amount", desk, `{"visitId":"V7","userId":"u1","kind":"treatment","amountFen":-1}`, 400, "amountFen"},
		{"amount as text", desk, `{"visitId":"V8","userId":"u1","kind":"treatment","amountFen":"100"}`, 400, "amountFen"},
		{"unknown field", desk, `{"visitId":"V9","userId":"u1","kind":"arrival","price":1}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: "referral", route: "POST /v1/staff/visits", as: tt.as, body: tt.body})
			require.Equal(t, tt.status, r.Status, r.Body)
			if tt.field != "" {
				require.Equal(t, "BAD_REQUEST", r.Code(t))
				require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], `"`+tt.field+`"`)
			}
		})
	}
}

// Every fraud rule, each with its code.
func TestReferralFraudRules(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	alice := patient("clinic-a", "alice")
	alice["phone_number"] = "+8613800138000"
	aliceCode := s.codeOf(alice)
	aliceAgain := patient("clinic-a", "alice-2")
	aliceAgain["phone_number"] = "138 0013 8000"
	bob := s.referralBound(alice, "bob")
	bobCode := s.codeOf(bob)
	returning := patient("clinic-a", "carol")
	require.Equal(t, "", s.visited("HIS-carol", returning), "a visit makes carol a patient")
	desk, boss := staff("clinic-a", "desk-1"), couponAdmin("clinic-a")

	tests := []struct {
		name   string
		as     who
		route  string
		code   string
		status int
		errc   string
	}{
		{"self-referral by user id", alice, "bind", aliceCode, 422, "SELF_REFERRAL"},
		{"self-referral by phone", aliceAgain, "bind", aliceCode, 422, "SELF_REFERRAL"},
		{"loop A→B→A", alice, "bind", bobCode, 422, "REFERRER_NOT_ELIGIBLE"},
		{"existing patient as referee", returning, "bind", aliceCode, 422, "NOT_A_NEW_PATIENT"},
		{"staff as referee", desk, "bind", aliceCode, 422, "NOT_A_NEW_PATIENT"},
		{"admin as referee", boss, "bind", aliceCode, 422, "NOT_A_NEW_PATIENT"},
		{"staff as referrer", desk, "code", "", 422, "REFERRER_NOT_ELIGIBLE"},
		{"admin as referrer", boss, "code", "", 422, "REFERRER_NOT_ELIGIBLE"},
		{"a second referrer", bob, "bind", s.codeOf(patient("clinic-a", "dave")), 409, "ALREADY_BOUND"},
		{"staff recording their own visit", desk, "visit", "", 422, "SELF_VISIT"},
		{"admin recording their own visit", boss, "visit", "", 422, "SELF_VISIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r reply
			switch tt.route {
			case "code":
				r = s.do(call{fn: "referral", route: "POST /v1/referral/code", as: tt.as})
			case "visit":
				r = s.do(call{fn: "referral", route: "POST /v1/staff/visits", as: tt.as,
					body: fmt.Sprintf(`{"visitId":"OWN-%s","userId":%q,"kind":"arrival"}`, tt.as["sub"], tt.as["sub"])})
			default:
				r = s.bind(tt.as, tt.code)
			}
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.errc, r.Code(t))
		})
	}
	require.Len(t, s.me(alice)["referrals"].([]any), 1, "only bob is alice's friend")
}

func TestBindingWindow(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.settings("clinic-a", `{"bindingWindowDays":10}`)
	alice, zoe := patient("clinic-a", "alice"), patient("clinic-a", "zoe")
	bob := s.referralBound(alice, "bob")

	// Within the window the first binding holds.
	clock.Advance(9 * 24 * time.Hour)
	r := s.bind(bob, s.codeOf(zoe))
	require.Equal(t, 409, r.Status, r.Body)
	require.Equal(t, "ALREADY_BOUND", r.Code(t))

	// Past it, an unqualified binding may be replaced; the new one starts
	// its own window.
	clock.Advance(2 * 24 * time.Hour)
	r = s.bind(bob, s.codeOf(zoe))
	require.Equal(t, 200, r.Status, r.Body)
	require.Equal(t, "QUALIFIED", s.visited("HIS-bob", bob))
	require.Equal(t, []string{"QUALIFIED"}, s.stages(zoe))

	// A friend who comes after the window does not qualify.
	carol := s.referralBound(alice, "carol")
	clock.Advance(10*24*time.Hour + time.Second)
	require.Equal(t, "", s.visited("HIS-carol", carol), "no live referral")
	require.Len(t, s.events(event.ReferralQualified), 1)
	r = s.bind(carol, s.codeOf(zoe))
	require.Equal(t, 422, r.Status, r.Body)
	require.Equal(t, "NOT_A_NEW_PATIENT", r.Code(t), "after a visit, no binding at all")
}

func TestReferrerNeverSeesTreatments(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.rewardRules("clinic-a")
	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	r := s.visit("clinic-a", "HIS-7", bob, "treatment", 500000) // ¥5,000
	require.Equal(t, 200, r.Status, r.Body)
	drainHooks(t, s)

	view := s.do(call{fn: "referral", route: "GET /v1/referral/me", as: alice})
	require.Equal(t, 200, view.Status, view.Body)
	for _, secret := range []string{"500000", "treatment", "amount", "HIS-7", "visit", "kind"} {
		require.NotContains(t, view.Body, secret)
	}
	require.Equal(t, []string{"QUALIFIED"}, s.stages(alice))
	require.Equal(t, "张***", view.JSON(t)["referrals"].([]any)[0].(map[string]any)["displayName"], "masked")
}

func TestReleaseAfterTheHold(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.rewardRules("clinic-a")
	s.settings("clinic-a", `{"holdDays":3}`)
	alice := patient("clinic-a", "alice")
	friends := make([]who, 4)
	for i := range friends {
		friends[i] = s.referralBound(alice, fmt.Sprintf("friend-%d", i))
		require.Equal(t, "QUALIFIED", s.visited(fmt.Sprintf("HIS-%d", i), friends[i]))
	}
	drainHooks(t, s)
	start := clock.Now()
	require.Zero(t, s.release(), "nothing is due yet")
	clock.Advance(3*24*time.Hour - time.Minute)
	require.Zero(t, s.release(), "nor a minute before the hold ends")
	require.Equal(t, []string{"PENDING", "PENDING", "PENDING", "PENDING"}, couponStatuses(s.myCoupons(alice)))

	clock.Advance(2 * time.Minute)
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 2 { // two closer runs at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.deps.RewardReleaser().ReleaseDue(context.Background())
			require.NoError(t, err)
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, 8, total, "each of the 8 rewards released once")
	require.Zero(t, s.release())

	mine := s.myCoupons(alice)
	require.Equal(t, []string{"ISSUED", "ISSUED", "ISSUED", "ISSUED"}, couponStatuses(mine))
	validFrom, err := time.Parse(time.RFC3339, mine[0]["validFrom"].(string))
	require.NoError(t, err)
	require.Equal(t, start.Add(3*24*time.Hour).UTC(), validFrom.UTC(), "its validity starts when the hold ends")
	require.Equal(t, map[string]any{"bound": 4.0, "qualified": 4.0, "rewarded": 4.0}, s.me(alice)["counts"])
	require.Len(t, s.events("referral.rewarded"), 4, "one per referral, not per coupon")
	redeemed := s.redeem(staff("clinic-a", "desk"), mine[0]["couponCode"].(string))
	require.Equal(t, 200, redeemed.Status, redeemed.Body)
}

func TestMilestoneBonusOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "bonus-3", map[string]any{"claimable": false, "stock": 0})
	s.putTemplate("clinic-a", "bonus-5", map[string]any{"claimable": false, "stock": 0})
	s.settings("clinic-a", `{"milestones":[{"count":5,"templateId":"bonus-5"},{"count":3,"templateId":"bonus-3"}]}`)
	alice := patient("clinic-a", "alice")
	friends := make([]who, 4)
	for i := range friends {
		friends[i] = s.referralBound(alice, fmt.Sprintf("friend-%d", i))
	}
	replies := s.concurrently(4, func(i int) call {
		return call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "desk"),
			body: fmt.Sprintf(`{"visitId":"V-%d","userId":"friend-%d","kind":"arrival"}`, i, i)}
	})
	require.Equal(t, map[int]int{200: 4}, statuses(replies))
	drainHooks(t, s)
	// Delivered again, all of it.
	resp, err := stream.Hooks(s.deps)(context.Background(), lambdaEvents(s.streamedEvents(event.ReferralQualified)))
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)

	mine := s.myCoupons(alice)
	require.Len(t, mine, 1, "the 3rd friend's bonus, once; the 5th not reached")
	require.Equal(t, "bonus-3", mine[0]["templateId"])
	require.Equal(t, "PENDING", mine[0]["status"], "held like every referral reward")
	require.Equal(t, "referral", mine[0]["source"])
}

func TestVisitCallBudget(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.settings("clinic-a", `{"monthlyCap":1}`)
	s.deps.Settings.Get(context.Background(), "clinic-a")
	alice := patient("clinic-a", "alice")
	bob, carol := s.referralBound(alice, "bob"), s.referralBound(alice, "carol")
	tests := []struct {
		name          string
		c             call
		reads, writes int
	}{
		{"a plain visit", call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "d"), body: `{"visitId":"V0","userId":"nobody","kind":"arrival"}`}, 1, 1},
		{"a qualifying visit", call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "d"), body: fmt.Sprintf(`{"visitId":"V1","userId":%q,"kind":"arrival"}`, bob["sub"])}, 1, 1},
		{"a repeat", call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "d"), body: fmt.Sprintf(`{"visitId":"V1","userId":%q,"kind":"arrival"}`, bob["sub"])}, 1, 1},
		{"over the cap: written again, not rewardable", call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "d"), body: fmt.Sprintf(`{"visitId":"V2","userId":%q,"kind":"arrival"}`, carol["sub"])}, 1, 2},
		{"a refund", call{fn: "referral", route: "POST /v1/staff/visits/{visitId}/refund", as: staff("clinic-a", "d"), params: map[string]string{"visitId": "V1"}}, 1, 1},
		{"a repeated refund", call{fn: "referral", route: "POST /v1/staff/visits/{visitId}/refund", as: staff("clinic-a", "d"), params: map[string]string{"visitId": "V1"}}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(tt.c)
			require.Equal(t, 200, r.Status, r.Body)
			require.Equal(t, tt.reads, r.Calls.Reads(), "reads: %v", r.Calls.Ops())
			require.Equal(t, tt.writes, r.Calls.Writes(), "writes: %v", r.Calls.Ops())
		})
	}
	require.True(t, strings.Contains(mustJSON(t, s.events(event.ReferralQualified)[1].Data), `"rewardable":false`))
}

func TestSettings(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "bonus", map[string]any{"claimable": false})
	fn := s.referralAdminFn()
	boss := couponAdmin("clinic-a")

	got := s.do(call{fn: fn, route: "GET /v1/admin/settings", as: boss})
	require.Equal(t, 200, got.Status, got.Body)
	require.JSONEq(t, `{"newcomerOffer":null,"bindingWindowDays":30,"holdDays":7,"monthlyCap":0,"milestones":[]}`, got.Body, "the defaults")
	require.Equal(t, 1, got.Calls.Reads())

	tests := []struct {
		name   string
		as     who
		body   string
		status int
		errc   string
		field  string
	}{
		{"defaults", boss, `{}`, 200, "", ""},
		{"all set", boss, `{"newcomerOffer":{"title":"到院礼","templateId":"bonus"},"bindingWindowDays":14,"holdDays":0,"monthlyCap":3,"milestones":[{"count":3,"templateId":"bonus"}]}`, 200, "", ""},
		{"patient", patient("clinic-a", "p"), `{}`, 403, "FORBIDDEN", ""},
		{"staff", staff("clinic-a", "d"), `{}`, 403, "FORBIDDEN", ""},
		{"zero window", boss, `{"bindingWindowDays":0}`, 400, "BAD_REQUEST", "bindingWindowDays"},
		{"window too long", boss, `{"bindingWindowDays":366}`, 400, "BAD_REQUEST", "bindingWindowDays"},
		{"negative hold", boss, `{"holdDays":-1}`, 400, "BAD_REQUEST", "holdDays"},
		{"hold too long", boss, `{"holdDays":91}`, 400, "BAD_REQUEST", "holdDays"},
		{"negative cap", boss, `{"monthlyCap":-1}`, 400, "BAD_REQUEST", "monthlyCap"},
		{"cap as text", boss, `{"monthlyCap":"5"}`, 400, "BAD_REQUEST", "monthlyCap"},
		{"milestone at 0", boss, `{"milestones":[{"count":0,"templateId":"bonus"}]}`, 400, "BAD_REQUEST", "milestones[0].count"},
		{"milestone twice", boss, `{"milestones":[{"count":3,"templateId":"bonus"},{"count":3,"templateId":"bonus"}]}`, 400, "BAD_REQUEST", "milestones[1].count"},
		{"milestone without template", boss, `{"milestones":[{"count":3}]}`, 400, "BAD_REQUEST", "milestones[0].templateId"},
		{"milestone of no template", boss, `{"milestones":[{"count":3,"templateId":"nope"}]}`, 404, "TEMPLATE_NOT_FOUND", "milestones[0].templateId"},
		{"offer without title", boss, `{"newcomerOffer":{"templateId":"bonus"}}`, 400, "BAD_REQUEST", "newcomerOffer.title"},
		{"unknown field", boss, `{"cap":3}`, 400, "BAD_REQUEST", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: fn, route: "PUT /v1/admin/settings", as: tt.as, body: tt.body})
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.errc, r.Code(t))
			if tt.field != "" {
				require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], `"`+tt.field+`"`)
			}
		})
	}

	t.Run("saved and read back", func(t *testing.T) {
		body := `{"newcomerOffer":{"title":"到院礼","templateId":"bonus"},"bindingWindowDays":14,"holdDays":0,"monthlyCap":3,"milestones":[{"count":5,"templateId":"bonus"},{"count":2,"templateId":"bonus"}]}`
		put := s.do(call{fn: fn, route: "PUT /v1/admin/settings", as: boss, body: body})
		require.Equal(t, 200, put.Status, put.Body)
		require.Equal(t, 1, put.Calls.Reads(), "one read: the templates named")
		require.Equal(t, 1, put.Calls.Writes())
		want := `{"newcomerOffer":{"title":"到院礼","templateId":"bonus"},"bindingWindowDays":14,"holdDays":0,"monthlyCap":3,"milestones":[{"count":2,"templateId":"bonus"},{"count":5,"templateId":"bonus"}]}`
		require.JSONEq(t, want, put.Body)
		got := s.do(call{fn: fn, route: "GET /v1/admin/settings", as: boss})
		require.JSONEq(t, want, got.Body)
		other := s.do(call{fn: fn, route: "GET /v1/admin/settings", as: couponAdmin("clinic-b")})
		require.Contains(t, other.Body, `"monthlyCap":0`, "another clinic's are its own")
		// This process sees the change at once: the landing page shows the offer.
		code := s.codeOf(patient("clinic-a", "alice"))
		landing := s.do(call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": code}})
		require.Contains(t, landing.Body, "到院礼")

		plain := s.do(call{fn: fn, route: "PUT /v1/admin/settings", as: boss, body: `{"monthlyCap":2}`})
		require.Equal(t, 200, plain.Status, plain.Body)
		require.Equal(t, 0, plain.Calls.Reads(), "no template named, nothing to read")
		require.Equal(t, 1, plain.Calls.Writes())
	})
}

// Staff never earn referral rewards: a visit a member of staff records for
// themselves is refused, and a side of a referral who is staff or admin as
// it qualifies (by the reporting token or by a role record) gets no reward,
// while the patient on the other side still gets theirs.
func TestStaffNeverEarn(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.rewardRules("clinic-a")
	s.deps.Settings.Get(context.Background(), "clinic-a") // settings are cached config
	roles := dynamo.RoleStore{Store: s.deps.Store}
	ctx := context.Background()
	referralCoupons := func(u who) int {
		n := 0
		for _, c := range s.myCoupons(u) {
			if c["source"] == "referral" {
				n++
			}
		}
		return n
	}

	t.Run("staff record their own visit: 422 SELF_VISIT, nothing written", func(t *testing.T) {
		for _, as := range []who{staff("clinic-a", "desk-self"), {"sub": "boss-self", "tenant": "clinic-a", "role": "admin"}} {
			r := s.do(call{fn: "referral", route: "POST /v1/staff/visits", as: as,
				body: fmt.Sprintf(`{"visitId":"SELF-%s","userId":%q,"kind":"treatment","amountFen":100000}`, as["sub"], as["sub"])})
			require.Equal(t, 422, r.Status, r.Body)
			require.Equal(t, "SELF_VISIT", r.Code(t))
			require.Zero(t, r.Calls.Writes(), "nothing written: %v", r.Calls.Ops())
			require.Equal(t, 404, s.refund("clinic-a", "SELF-"+as["sub"]).Status, "no visit recorded")
			role, err := roles.RoleOf(ctx, "clinic-a", as["sub"])
			require.NoError(t, err)
			require.Empty(t, role, "no role recorded either")
		}
	})

	tests := []struct {
		name     string
		grant    map[string]auth.Role // role records before the visit, by user
		reporter func(referrer who) who
		// rewarded: which sides hold a referral reward after the stream
		referrer, referee bool
		rewardable        bool
		reads, writes     int
	}{
		{name: "patients both: both rewarded", reporter: func(who) who { return staff("clinic-a", "desk-1") },
			referrer: true, referee: true, rewardable: true, reads: 1, writes: 1},
		{name: "a former patient, now staff, records the visit of the friend they referred",
			reporter: func(referrer who) who { return staff("clinic-a", referrer["sub"]) },
			referrer: false, referee: true, rewardable: true, reads: 1, writes: 1},
		{name: "an admin records the visit of the friend they referred",
			reporter: func(referrer who) who { return who{"sub": referrer["sub"], "tenant": "clinic-a", "role": "admin"} },
			referrer: false, referee: true, rewardable: true, reads: 1, writes: 1},
		{name: "a referrer granted staff: the write's check finds it, written again",
			grant: map[string]auth.Role{"referrer": auth.Staff}, reporter: func(who) who { return staff("clinic-a", "desk-1") },
			referrer: false, referee: true, rewardable: true, reads: 1, writes: 2},
		{name: "a referrer granted admin", grant: map[string]auth.Role{"referrer": auth.Admin},
			reporter: func(who) who { return staff("clinic-a", "desk-1") },
			referrer: false, referee: true, rewardable: true, reads: 1, writes: 2},
		{name: "a referrer whose grant was taken back earns again", grant: map[string]auth.Role{"referrer": auth.Patient},
			reporter: func(who) who { return staff("clinic-a", "desk-1") },
			referrer: true, referee: true, rewardable: true, reads: 1, writes: 1},
		{name: "a referee granted staff: read with the binding", grant: map[string]auth.Role{"referee": auth.Staff},
			reporter: func(who) who { return staff("clinic-a", "desk-1") },
			referrer: true, referee: false, rewardable: true, reads: 1, writes: 1},
		{name: "both staff: not rewardable at all", grant: map[string]auth.Role{"referee": auth.Admin},
			reporter: func(referrer who) who { return staff("clinic-a", referrer["sub"]) },
			referrer: false, referee: false, rewardable: false, reads: 1, writes: 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			referrer := patient("clinic-a", fmt.Sprintf("referrer-%d", i))
			referee := s.referralBound(referrer, fmt.Sprintf("referee-%d", i))
			for side, role := range tt.grant {
				user := map[string]who{"referrer": referrer, "referee": referee}[side]
				require.NoError(t, roles.SetRole(ctx, "clinic-a", user["sub"], role))
			}
			visitID := fmt.Sprintf("STAFF-%d", i)
			r := s.do(call{fn: "referral", route: "POST /v1/staff/visits", as: tt.reporter(referrer),
				body: fmt.Sprintf(`{"visitId":%q,"userId":%q,"kind":"treatment","amountFen":300000}`, visitID, referee["sub"])})
			require.Equal(t, 200, r.Status, r.Body)
			require.JSONEq(t, `{"stage":"QUALIFIED"}`, mustJSON(t, r.JSON(t)["referral"]), "the referral still counts")
			require.Equal(t, tt.reads, r.Calls.Reads(), "reads: %v", r.Calls.Ops())
			require.Equal(t, tt.writes, r.Calls.Writes(), "writes: %v", r.Calls.Ops())

			var e event.Event
			for _, q := range s.events(event.ReferralQualified) {
				if q.Data["visitId"] == visitID {
					e = q
				}
			}
			require.Equal(t, tt.rewardable, e.Data["rewardable"])
			require.Equal(t, !tt.referrer, e.Data["referrerEligible"] == false, "%v", e.Data)
			require.Equal(t, !tt.referee, e.Data["refereeEligible"] == false, "%v", e.Data)

			drainHooks(t, s)
			require.Equal(t, map[bool]int{true: 1}[tt.referrer], referralCoupons(referrer), "the referrer's reward")
			require.Equal(t, map[bool]int{true: 1}[tt.referee], referralCoupons(referee), "the referee's reward")
			require.Equal(t, "QUALIFIED", s.stages(referrer)[0])
		})
	}

	t.Run("a staff token is recorded, never over an admin grant", func(t *testing.T) {
		require.NoError(t, roles.SetRole(ctx, "clinic-a", "boss", auth.Admin))
		for i, reporter := range []string{"boss", "desk-new"} {
			r := s.visit("clinic-a", fmt.Sprintf("SEEN-%d", i), patient("clinic-a", "someone"), "arrival", 0)
			require.Equal(t, 200, r.Status, r.Body)
			r = s.do(call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", reporter),
				body: fmt.Sprintf(`{"visitId":"SEEN-BY-%d","userId":"someone","kind":"arrival"}`, i)})
			require.Equal(t, 200, r.Status, r.Body)
			require.Equal(t, 1, r.Calls.Writes(), "recorded in the visit's own write: %v", r.Calls.Ops())
		}
		boss, err := roles.RoleOf(ctx, "clinic-a", "boss")
		require.NoError(t, err)
		require.Equal(t, auth.Admin, boss, "not lowered to staff")
		desk, err := roles.RoleOf(ctx, "clinic-a", "desk-new")
		require.NoError(t, err)
		require.Equal(t, auth.Staff, desk, "what the token showed")
	})

	t.Run("a former patient who recorded a visit as staff earns nothing later", func(t *testing.T) {
		// referrer-1 recorded a visit with a staff token above: their role
		// record says staff now, whoever reports the next friend's visit.
		friend := s.referralBound(patient("clinic-a", "referrer-1"), "late-friend")
		require.Equal(t, "QUALIFIED", s.visited("LATE-1", friend))
		drainHooks(t, s)
		require.Equal(t, 0, referralCoupons(patient("clinic-a", "referrer-1")))
		require.Equal(t, 1, referralCoupons(friend))
	})
}
