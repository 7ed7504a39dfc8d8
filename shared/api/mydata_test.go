package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/mydata"
	"github.com/laoyou/laoyou/shared/privacy"
)

const (
	subjectName   = "欧阳娜娜" // stored masked: 欧***
	subjectMasked = "欧***"
	subjectPhone  = "13812345678"
	subjectOpenID = "openid-of-the-subject"
)

// subject is a patient who signed in with WeChat and bound their phone.
type subject struct {
	who       who
	phoneHash string
}

func (s *stack) signedInSubject(tenant string) subject {
	s.t.Helper()
	s.withApp(tenant)
	r := s.signIn(tenant, s.wechat.LoginCode(testAppID, subjectOpenID, ""))
	require.Equal(s.t, 200, r.Status, r.Body)
	w := who{"sub": r.JSON(s.t)["userId"].(string), "tenant": tenant, "role": "patient", "name": subjectName}
	return subject{who: w, phoneHash: privacy.PhoneHash([]byte(s.deps.Config.PhonePepper), "+86"+subjectPhone)}
}

func (s *stack) bindPhone(as who, phone string) {
	s.t.Helper()
	r := s.do(call{fn: "auth", route: "POST /v1/me/phone", as: as,
		body: fmt.Sprintf(`{"code":%q}`, s.wechat.PhoneCode(testAppID, phone))})
	require.Equal(s.t, 200, r.Status, r.Body)
}

func (s *stack) myData(as who) map[string]any {
	s.t.Helper()
	r := s.do(call{fn: "auth", route: "GET /v1/me/data", as: as})
	require.Equal(s.t, 200, r.Status, r.Body)
	return r.JSON(s.t)
}

func (s *stack) eraseMe(as who) reply {
	return s.do(call{fn: "auth", route: "DELETE /v1/me", as: as})
}

// holder is everything the subject holds, built through the API.
type holder struct {
	code     string
	rooms    []string // one joined, one led
	referrer who
}

// giveEverything makes the subject hold one of each kind: a code, a
// binding (to rita), friends (bob qualified, carol qualified then
// refunded), rewards held and voided, a visit of their own, coupons
// claimed (one redeemed), a room joined and a room led.
func (s *stack) giveEverything(sub subject) holder {
	s.t.Helper()
	t, tenant := s.t, sub.who["tenant"]
	s.rewardRules(tenant)
	s.putTemplate(tenant, "gift", map[string]any{"stock": 10, "perUserLimit": 5})
	s.deal(tenant, "trio", map[string]any{"groupSize": 3, "perUserLimit": 2})
	alice := sub.who

	rita := patient(tenant, "rita")
	h := holder{code: s.codeOf(alice), referrer: rita}
	r := s.bind(alice, s.codeOf(rita))
	require.Equal(t, 200, r.Status, r.Body)
	s.bindPhone(alice, subjectPhone)

	bob := s.referralBound(alice, "bob")
	carol := s.referralBound(alice, "carol")
	require.Equal(t, "QUALIFIED", s.visited("V-bob", bob))
	require.Equal(t, "QUALIFIED", s.visited("V-carol", carol))
	require.Equal(t, "QUALIFIED", s.visited("V-alice", alice))
	drainHooks(t, s)
	r = s.refund(tenant, "V-carol")
	require.Equal(t, 200, r.Status, r.Body)

	for range 2 {
		r = s.claim(alice, "gift")
		require.Equal(t, 201, r.Status, r.Body)
	}
	r = s.redeem(staff(tenant, "desk"), r.JSON(t)["couponCode"].(string))
	require.Equal(t, 200, r.Status, r.Body)

	erin := patient(tenant, "erin")
	joined := s.opened(erin, "trio")
	r = s.join(alice, joined)
	require.Equal(t, 200, r.Status, r.Body)
	led := s.opened(alice, "trio")
	r = s.join(patient(tenant, "frank"), led)
	require.Equal(t, 200, r.Status, r.Body)
	h.rooms = []string{joined, led}
	drainHooks(t, s)
	return h
}

// A caller who holds nothing gets the whole document all the same, every
// list empty ([], not null) and no referral code or referrer.
func TestExportOfNothingListsNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	r := s.do(call{fn: "auth", route: "GET /v1/me/data", as: patient("clinic-a", "nobody")})
	require.Equal(t, 200, r.Status, r.Body)
	x := r.JSON(t)
	for _, list := range []string{"referrals", "coupons", "rooms", "visits", "rewards"} {
		require.Equal(t, []any{}, x[list], list)
	}
	require.Nil(t, x["referralCode"])
	require.Nil(t, x["referredBy"])
	require.Equal(t, map[string]any{"role": "patient", "weChatLinked": false}, x["profile"])
}

// GET /v1/me/data lists every kind of thing the subject holds, in one
// document, with names and phone masked.
func TestExportListsEverythingTheCallerHolds(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sub := s.signedInSubject("clinic-a")
	h := s.giveEverything(sub)

	r := s.do(call{fn: "auth", route: "GET /v1/me/data", as: sub.who})
	require.Equal(t, 200, r.Status, r.Body)
	require.Equal(t, 2, r.Calls.Reads(), "two paged Queries: own items and ByOwner: %v", r.Calls.Ops())
	require.NotContains(t, r.Body, subjectOpenID)
	require.NotContains(t, r.Body, sub.phoneHash)
	var x exportView
	require.NoError(t, json.Unmarshal([]byte(r.Body), &x))

	require.Equal(t, sub.who["sub"], x.UserID)
	require.Equal(t, exportProfileView{DisplayName: subjectMasked, Phone: "138****5678", Role: "patient", WeChatLinked: true},
		exportProfileView{DisplayName: x.Profile.DisplayName, Phone: x.Profile.Phone, Role: x.Profile.Role, WeChatLinked: x.Profile.WeChatLinked})
	require.NotNil(t, x.ReferralCode)
	require.Equal(t, h.code, x.ReferralCode.Code)
	require.NotNil(t, x.ReferredBy)
	require.Equal(t, privacy.MaskName(h.referrer["name"]), x.ReferredBy.DisplayName)
	require.Equal(t, "QUALIFIED", x.ReferredBy.Stage)

	var friends []string
	for _, f := range x.Referrals {
		friends = append(friends, f.DisplayName+" "+f.Stage)
	}
	require.ElementsMatch(t, []string{
		privacy.MaskName("张bob") + " QUALIFIED", privacy.MaskName("张carol") + " REVERSED",
		privacy.MaskName("张frank") + " BOUND", // joined the room they lead
	}, friends)

	var statuses []string
	for _, c := range x.Coupons {
		statuses = append(statuses, c.Status)
	}
	require.ElementsMatch(t, []string{"PENDING", "PENDING", "VOID", "ISSUED", "REDEEMED"}, statuses,
		"two rewards held (bob's referral, their own visit), carol's voided by the refund, two claims, one redeemed")
	require.Len(t, x.Rewards, 3)
	for _, c := range x.Rewards {
		require.Equal(t, string(coupon.FromReferral), c.Source)
	}

	var rooms []string
	for _, room := range x.Rooms {
		rooms = append(rooms, fmt.Sprintf("%s leader=%v", room.GroupID, room.Leader))
	}
	require.ElementsMatch(t, []string{h.rooms[0] + " leader=false", h.rooms[1] + " leader=true"}, rooms)
	require.Len(t, x.Visits, 1)
	require.Equal(t, "V-alice", x.Visits[0].VisitID)
	require.Equal(t, "QUALIFIED", x.Visits[0].ReferralStage)
}

// DELETE /v1/me drops the person and keeps the counts.
func TestErasureDropsThePersonAndKeepsTheCounts(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sub := s.signedInSubject("clinic-a")
	h := s.giveEverything(sub)
	alice, tenant := sub.who, "clinic-a"
	rita := h.referrer
	giftLeft := func() (n int64) {
		for _, left := range s.stockLeft(tenant, "gift", coupon.ShardsFor(10)) {
			n += left
		}
		return n
	}
	statsBefore := s.stats(tenant).JSON(t)
	ritaBefore := s.me(rita)["counts"]
	leftBefore := giftLeft()
	require.True(t, s.holds(sub), "the test can see the subject's data before erasure")

	r := s.eraseMe(alice)
	require.Equal(t, 200, r.Status, r.Body)
	erasedAt := r.JSON(t)["erasedAt"]
	require.NotEmpty(t, erasedAt)
	drainHooks(t, s)

	t.Run("a repeat answers the same", func(t *testing.T) {
		again := s.eraseMe(alice)
		require.Equal(t, 200, again.Status, again.Body)
		require.JSONEq(t, r.Body, again.Body)
	})
	t.Run("the export answers userId and erasedAt alone", func(t *testing.T) {
		require.Equal(t, map[string]any{"userId": alice["sub"], "erasedAt": erasedAt}, s.myData(alice))
	})
	t.Run("name, phone HMAC and openid are nowhere in the table", func(t *testing.T) {
		require.False(t, s.holds(sub))
	})
	t.Run("others see 已注销用户", func(t *testing.T) {
		for _, g := range h.rooms {
			var names []string
			for _, m := range s.status(g)["members"].([]any) {
				names = append(names, m.(map[string]any)["displayName"].(string))
			}
			require.Contains(t, names, mydata.ErasedName, "room %s", g)
		}
		var friends []string
		for _, f := range s.me(rita)["referrals"].([]any) {
			friends = append(friends, f.(map[string]any)["displayName"].(string))
		}
		require.Equal(t, []string{mydata.ErasedName}, friends, "rita's friend list")
		var top []string
		for _, tr := range s.stats(tenant).JSON(t)["topReferrers"].([]any) {
			top = append(top, tr.(map[string]any)["displayName"].(string))
		}
		require.Contains(t, top, mydata.ErasedName)
		require.NotContains(t, top, subjectMasked)
	})
	t.Run("counts and stats stay", func(t *testing.T) {
		after := s.stats(tenant).JSON(t)
		require.Equal(t, statsBefore["referral"], after["referral"])
		require.Equal(t, statsBefore["deals"], after["deals"])
		require.Equal(t, ritaBefore, s.me(rita)["counts"], "an erased referral still counts")
	})
	t.Run("unused coupons are VOID and give their stock back", func(t *testing.T) {
		for _, it := range s.scan() {
			if str(it, "kind") == "coupon" && str(it, "userId") == alice["sub"] {
				require.Contains(t, []string{"VOID", "REDEEMED"}, str(it, "status"), str(it, "code"))
			}
		}
		require.Equal(t, leftBefore+1, giftLeft(), "the one unused claimed gift")
	})
	t.Run("the code resolves no more and cannot be bound", func(t *testing.T) {
		got := s.do(call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": h.code}})
		require.Equal(t, 404, got.Status, got.Body)
		require.Equal(t, "CODE_NOT_FOUND", got.Code(t))
		bound := s.bind(patient(tenant, "gina"), h.code)
		require.Equal(t, 404, bound.Status, bound.Body)
		require.Equal(t, "CODE_NOT_FOUND", bound.Code(t))
	})
	t.Run("the erased caller adds nothing", func(t *testing.T) {
		for _, c := range []call{
			{fn: "coupons", route: "POST /v1/coupons/claim", body: `{"templateId":"gift"}`},
			{fn: "groupbuy", route: "POST /v1/groups", body: `{"dealId":"trio"}`},
			{fn: "referral", route: "POST /v1/referral/code"},
			{fn: "referral", route: "POST /v1/referral/bind", body: fmt.Sprintf(`{"code":%q}`, s.codeOf(patient(tenant, "hank")))},
		} {
			c.as = alice
			got := s.do(c)
			require.Equal(t, 403, got.Status, "%s: %s", c.route, got.Body)
			require.Equal(t, "FORBIDDEN", got.Code(t))
		}
		require.False(t, s.holds(sub))
	})
	t.Run("signing in again is a new user", func(t *testing.T) {
		again := s.signIn(tenant, s.wechat.LoginCode(testAppID, subjectOpenID, ""))
		require.Equal(t, 200, again.Status, again.Body)
		require.NotEqual(t, alice["sub"], again.JSON(t)["userId"])
		require.Equal(t, true, again.JSON(t)["newUser"])
		require.Nil(t, s.rawItem("T#"+tenant+"#U#"+alice["sub"], "WXOPENID")["openid"], "the erased user keeps no openid")
	})
}

// holds says whether any item of the table carries the subject's name,
// phone HMAC or openid, in any attribute at any depth.
func (s *stack) holds(sub subject) bool {
	s.t.Helper()
	for _, item := range s.scan() {
		if carries(&types.AttributeValueMemberM{Value: item}, subjectMasked, sub.phoneHash, subjectOpenID) {
			return true
		}
	}
	return false
}

func carries(av types.AttributeValue, needles ...string) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return slices.ContainsFunc(needles, func(n string) bool { return strings.Contains(v.Value, n) })
	case *types.AttributeValueMemberSS:
		return slices.ContainsFunc(v.Value, func(s string) bool { return carries(&types.AttributeValueMemberS{Value: s}, needles...) })
	case *types.AttributeValueMemberL:
		return slices.ContainsFunc(v.Value, func(e types.AttributeValue) bool { return carries(e, needles...) })
	case *types.AttributeValueMemberM:
		for k, e := range v.Value {
			if carries(&types.AttributeValueMemberS{Value: k}, needles...) || carries(e, needles...) {
				return true
			}
		}
	}
	return false
}

// An erasure racing the subject's own joins, claims, phone binding and
// bind, and newcomers binding to the subject's code: each write lands
// before the marker (and is scrubbed) or is refused after it, as is every
// write after the erasure, so nothing carrying the person is left and no
// coupon of theirs stays usable.
func TestErasureRacingWritesLeavesNothingOfThePerson(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	tenant := "clinic-a"
	sub := s.signedInSubject(tenant)
	alice := sub.who
	s.bindPhone(alice, subjectPhone)
	code := s.codeOf(alice)
	s.putTemplate(tenant, "gift", map[string]any{"stock": 100, "perUserLimit": 50})
	s.deal(tenant, "trio", map[string]any{"groupSize": 3, "perUserLimit": 50})
	const writes = 20
	var rooms []string
	for i := range 2 * writes / 5 {
		rooms = append(rooms, s.opened(patient(tenant, fmt.Sprintf("leader-%d", i)), "trio"))
	}
	ritaCode := s.codeOf(patient(tenant, "rita"))
	// wave is 20 writes: the subject joins four rooms, claims four
	// coupons, binds their phone four times and binds to rita's code four
	// times; four newcomers bind to the subject's code.
	wave := func(n int) []call {
		var calls []call
		for i := range writes {
			switch i % 5 {
			case 0:
				calls = append(calls, call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: alice,
					params: map[string]string{"groupId": rooms[n*writes/5+i/5]}})
			case 1:
				calls = append(calls, call{fn: "coupons", route: "POST /v1/coupons/claim", as: alice, body: `{"templateId":"gift"}`})
			case 2:
				calls = append(calls, call{fn: "referral", route: "POST /v1/referral/bind", as: patient(tenant, fmt.Sprintf("newbie-%d-%d", n, i)),
					body: fmt.Sprintf(`{"code":%q}`, code)})
			case 3:
				calls = append(calls, call{fn: "auth", route: "POST /v1/me/phone", as: alice,
					body: fmt.Sprintf(`{"code":%q}`, s.wechat.PhoneCode(testAppID, subjectPhone))})
			case 4:
				calls = append(calls, call{fn: "referral", route: "POST /v1/referral/bind", as: alice, body: fmt.Sprintf(`{"code":%q}`, ritaCode)})
			}
		}
		return calls
	}
	refusedOK := func(r reply) bool {
		return r.Status == 403 && r.Code(t) == "FORBIDDEN" || r.Status == 404 && r.Code(t) == "CODE_NOT_FOUND"
	}

	// The racing wave: the erasure (twice: a duplicate DELETE) starts once
	// a few writes are through, so that some land before it and the rest
	// race it.
	calls := wave(0)
	const erasures, landedFirst = 2, 4
	replies := make([]reply, erasures+len(calls))
	done := make(chan struct{}, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[erasures+i] = s.do(c)
			done <- struct{}{}
		}()
	}
	for range landedFirst {
		<-done
	}
	for i := range erasures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = s.eraseMe(alice)
		}()
	}
	wg.Wait()

	require.Equal(t, 200, replies[0].Status, replies[0].Body)
	require.JSONEq(t, replies[0].Body, replies[1].Body, "both erasures answer the same erasedAt")
	refused := 0
	for i, r := range replies[erasures:] {
		switch {
		case r.Status == 200 || r.Status == 201:
		case refusedOK(r):
			refused++
		default:
			t.Fatalf("%s answered %d: %s", calls[i].route, r.Status, r.Body)
		}
	}
	t.Logf("%d of %d racing writes refused after the erasure", refused, len(calls))

	// The wave after: every write is refused.
	calls = wave(1)
	for i, r := range s.concurrently(len(calls), func(i int) call { return calls[i] }) {
		require.True(t, refusedOK(r), "%s after the erasure answered %d: %s", calls[i].route, r.Status, r.Body)
	}

	require.False(t, s.holds(sub), "an item still carries the subject's name, phone HMAC or openid")
	for _, it := range s.scan() {
		if str(it, "kind") == "coupon" && str(it, "userId") == alice["sub"] {
			require.Equal(t, "VOID", str(it, "status"), str(it, "code"))
		}
	}
	got := s.do(call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": code}})
	require.Equal(t, 404, got.Status, got.Body)
}

// A join the stream delivers after the room's leader was erased binds the
// joiner to no one, and the stream moves on: the erasure refuses the bind,
// quietly, as a rule of the referral channel.
func TestAJoinStreamedAfterTheLeadersErasureBindsNobody(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	tenant := "clinic-a"
	s.deal(tenant, "trio", map[string]any{"groupSize": 3})
	leader, joiner := patient(tenant, "leader"), patient(tenant, "joiner")
	room := s.opened(leader, "trio")
	r := s.join(joiner, room)
	require.Equal(t, 200, r.Status, r.Body)
	r = s.eraseMe(leader)
	require.Equal(t, 200, r.Status, r.Body)

	drainHooks(t, s)
	require.Empty(t, s.rawItem("T#"+tenant+"#U#joiner", "BOUND_TO"), "bound to an erased leader")
	require.Empty(t, s.deadLetters(couponAdmin(tenant)))
}
