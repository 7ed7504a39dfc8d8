package chaos

import (
	"fmt"
	"sort"
	"strings"

	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
)

// The invariants Check holds a table to: docs/DESIGN.md's data rules, and what
// follows from them for the counts kept beside the data.
const (
	RoomOverSize      = "room-over-size"      // a room has more members than its size, or joined disagrees with its roster
	DuplicateMember   = "duplicate-member"    // a user is twice in a room, or roster and member items disagree
	RoomOutcome       = "room-outcome"        // a settled room's status disagrees with its count, or it is still on the expiry index
	SeatStock         = "seat-stock"          // more seats taken than the stock or a shard's cap, below zero, or other than the seats held
	OrphanSeat        = "orphan-seat"         // a seat or standing held by no member of a live room
	SeatCount         = "seat-count"          // the rolled-up seatsTaken disagrees with the shards
	CouponStock       = "coupon-stock"        // a stock shard below zero, or stock used disagrees with coupons issued and not void
	CouponLimit       = "coupon-limit"        // a user holds more claims than allowed, or the claim count disagrees
	IssuedCount       = "issued-count"        // a limited template's rolled-up issued count disagrees with its coupons
	CouponEvent       = "coupon-event"        // a coupon without its coupon.issued event, or an event without its coupon
	RedeemedOnce      = "redeemed-once"       // a coupon redeemed twice, or redeemed without its event
	RewardOnce        = "reward-once"         // a reward issued twice for one (event, rule, recipient)
	RewardGiven       = "reward-given"        // a rule's reward neither issued nor dead-lettered
	ReferrerOnce      = "referrer-once"       // a referee bound twice, or binding, friend entry and event disagree
	ReferralLoop      = "referral-loop"       // A referred B and B referred A
	CodeOwner         = "code-owner"          // a referral code and its owner's copy disagree
	QualifiedOnce     = "qualified-once"      // a referral qualified twice
	RoomStatusUnknown = "room-status-unknown" // a room in no known status
)

// Violation is one broken invariant.
type Violation struct {
	Invariant string
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Settled says what may be expected of the table beyond the invariants
// that hold at every moment.
type Settled struct {
	// Rooms: every room past its expiry was settled by the closer, so none
	// is open any more.
	Rooms bool
	// Stream: the hooks function has handled every event, so the
	// rolled-up counts are exact and every rule's rewards were given.
	Stream bool
}

// Check returns every violation found, sorted.
func (t *Table) Check(s Settled) []Violation {
	var out []Violation
	bad := func(inv, format string, args ...any) {
		out = append(out, Violation{inv, fmt.Sprintf(format, args...)})
	}
	t.checkRooms(s, bad)
	t.checkCoupons(s, bad)
	t.checkReferrals(bad)
	if s.Stream {
		t.checkRewardsGiven(bad)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

type reporter func(invariant, format string, args ...any)

const (
	open      = "OPEN"
	succeeded = "SUCCEEDED"
	failed    = "FAILED"
)

func (t *Table) checkRooms(s Settled, bad reporter) {
	memberItems := map[[2]string]Member{}
	for _, m := range t.Members {
		k := [2]string{m.GroupID, m.UserID}
		if _, dup := memberItems[k]; dup {
			bad(DuplicateMember, "room %s: two member items for %s", m.GroupID, m.UserID)
		}
		memberItems[k] = m
		if _, ok := t.Rooms[m.GroupID]; !ok {
			bad(OrphanSeat, "member item of %s in room %s, which does not exist", m.UserID, m.GroupID)
		}
	}
	type shardKey struct {
		DealKey
		shard int
	}
	held := map[shardKey]int{}    // seats held by members of rooms that did not fail
	standing := map[DealUse]int{} // rooms that did not fail, per user and deal
	inRoster := map[[2]string]bool{}
	for id, r := range t.Rooms {
		if r.Joined != len(r.Members) {
			bad(RoomOverSize, "room %s: joined %d but %d on the roster", id, r.Joined, len(r.Members))
		}
		if len(r.Members) > r.Size {
			bad(RoomOverSize, "room %s: %d members, size %d", id, len(r.Members), r.Size)
		}
		seen := map[string]bool{}
		leaders := 0
		for _, m := range r.Members {
			if seen[m.UserID] {
				bad(DuplicateMember, "room %s: %s twice on the roster", id, m.UserID)
			}
			seen[m.UserID] = true
			inRoster[[2]string{id, m.UserID}] = true
			if mi, ok := memberItems[[2]string{id, m.UserID}]; !ok {
				bad(DuplicateMember, "room %s: %s on the roster without a member item", id, m.UserID)
			} else if mi.Shard != m.Shard {
				bad(SeatStock, "room %s: %s holds shard %d on the roster, %d on the member item", id, m.UserID, m.Shard, mi.Shard)
			}
			if m.Leader {
				leaders++
			}
			if r.Status != failed {
				held[shardKey{DealKey{r.Tenant, r.DealID}, m.Shard}]++
				standing[DealUse{r.Tenant, m.UserID, r.DealID}]++
			}
		}
		if leaders != 1 || len(r.Members) == 0 || !r.Members[0].Leader || r.Members[0].UserID != r.LeaderID {
			bad(DuplicateMember, "room %s: the roster does not start with its one leader %s", id, r.LeaderID)
		}
		onIndex := r.ExpShard != "" || r.ExpAt != ""
		switch r.Status {
		case open:
			if !onIndex {
				bad(RoomOutcome, "room %s is open but not on the expiry index", id)
			}
			if s.Rooms {
				bad(RoomOutcome, "room %s (expires %s) is still open after the closer ran", id, r.ExpiresAt)
			}
		case succeeded:
			if r.Joined < r.MinSize {
				bad(RoomOutcome, "room %s succeeded with %d of at least %d", id, r.Joined, r.MinSize)
			}
		case failed:
			if r.Joined >= r.MinSize {
				bad(RoomOutcome, "room %s failed with %d, enough for %d", id, r.Joined, r.MinSize)
			}
		default:
			bad(RoomStatusUnknown, "room %s: status %q", id, r.Status)
		}
		if r.Status != open && onIndex {
			bad(RoomOutcome, "room %s is %s but still on the expiry index", id, r.Status)
		}
	}
	for k := range memberItems {
		if _, ok := t.Rooms[k[0]]; ok && !inRoster[k] {
			bad(OrphanSeat, "room %s: member item of %s, who is not on the roster", k[0], k[1])
		}
	}

	shards := map[shardKey]SeatShard{}
	taken := map[DealKey]int{}
	for _, sh := range t.SeatShards {
		k := shardKey{DealKey{sh.Tenant, sh.DealID}, sh.Shard}
		shards[k] = sh
		taken[k.DealKey] += sh.Taken
		switch {
		case sh.Taken < 0:
			bad(SeatStock, "deal %s shard %d: taken %d below zero", sh.DealID, sh.Shard, sh.Taken)
		case sh.Taken > sh.Cap:
			bad(SeatStock, "deal %s shard %d: taken %d over cap %d", sh.DealID, sh.Shard, sh.Taken, sh.Cap)
		}
		if h := held[k]; h != sh.Taken {
			inv := SeatStock
			if h < sh.Taken {
				inv = OrphanSeat
			}
			bad(inv, "deal %s shard %d: taken %d, members of live rooms hold %d", sh.DealID, sh.Shard, sh.Taken, h)
		}
	}
	for k, h := range held {
		if _, ok := shards[k]; !ok {
			bad(SeatStock, "deal %s: %d seats held on shard %d, which does not exist", k.ID, h, k.shard)
		}
	}
	for k, d := range t.Deals {
		// A deal whose stock an admin cut below the seats then held may
		// hold more; the workloads that use Check never cut.
		if taken[k] > d.Stock {
			bad(SeatStock, "deal %s: %d seats taken of a stock of %d", k.ID, taken[k], d.Stock)
		}
		if s.Stream && d.SeatsTaken != taken[k] {
			bad(SeatCount, "deal %s: seatsTaken %d, the shards hold %d", k.ID, d.SeatsTaken, taken[k])
		}
	}
	for u, n := range t.DealUses {
		if n != standing[u] {
			bad(OrphanSeat, "%s in deal %s: standing counts %d rooms, %d live rooms hold them", u.User, u.Deal, n, standing[u])
		}
		if d, ok := t.Deals[DealKey{u.Tenant, u.Deal}]; ok && d.PerUserLimit > 0 && n > d.PerUserLimit {
			bad(OrphanSeat, "%s in deal %s: %d rooms, limit %d", u.User, u.Deal, n, d.PerUserLimit)
		}
	}
	for u, n := range standing {
		if _, ok := t.DealUses[u]; !ok {
			bad(OrphanSeat, "%s in deal %s: in %d live rooms without a standing", u.User, u.Deal, n)
		}
	}
}

func (t *Table) checkCoupons(s Settled, bad reporter) {
	ofTemplate := map[DealKey]int64{}
	claimed := map[ClaimKey]int{}
	for _, c := range t.Coupons {
		if c.Status != "VOID" { // a voided reward gave its unit back
			ofTemplate[DealKey{c.Tenant, c.TemplateID}]++
		}
		if c.Source == "claim" {
			claimed[ClaimKey{c.Tenant, c.UserID, c.TemplateID}]++
		}
	}
	left := map[DealKey]int64{}
	for _, sh := range t.StockShards {
		k := DealKey{sh.Tenant, sh.TemplateID}
		left[k] += sh.Left
		if sh.Left < 0 {
			bad(CouponStock, "template %s shard %d: %d left, below zero", sh.TemplateID, sh.Shard, sh.Left)
		}
	}
	for k, tp := range t.Templates {
		if tp.Stock > 0 && tp.Stock-left[k] != ofTemplate[k] {
			bad(CouponStock, "template %s: stock %d, %d left, but %d coupons issued", k.ID, tp.Stock, left[k], ofTemplate[k])
		}
		if s.Stream && tp.Stock > 0 && tp.Issued != ofTemplate[k] {
			bad(IssuedCount, "template %s: issued count %d, %d coupons", k.ID, tp.Issued, ofTemplate[k])
		}
	}
	for k, n := range t.Claims {
		if n != claimed[k] {
			bad(CouponLimit, "%s's claims of %s: counted %d, holds %d claimed coupons", k.User, k.Template, n, claimed[k])
		}
		if tp, ok := t.Templates[DealKey{k.Tenant, k.Template}]; ok && tp.PerUserLimit > 0 && n > tp.PerUserLimit {
			bad(CouponLimit, "%s claimed %s %d times, limit %d", k.User, k.Template, n, tp.PerUserLimit)
		}
	}
	for k, n := range claimed {
		if tp, ok := t.Templates[DealKey{k.Tenant, k.Template}]; ok && tp.PerUserLimit > 0 {
			if _, counted := t.Claims[k]; !counted {
				bad(CouponLimit, "%s holds %d claimed coupons of %s that no count records", k.User, n, k.Template)
			}
		}
	}

	issuedEvents := map[string]int{}
	redeemedEvents := map[string]int{}
	rewards := map[string]int{} // by effect
	for _, e := range t.Events {
		code, _ := e.Data["couponCode"].(string)
		switch e.Type {
		case event.CouponIssued:
			issuedEvents[code]++
			if c, ok := t.Coupons[code]; !ok {
				bad(CouponEvent, "coupon.issued %s names coupon %q, which does not exist", e.ID, code)
			} else if user, _ := e.Data["userId"].(string); user != "" && user != c.UserID {
				bad(CouponEvent, "coupon.issued %s names %s, the coupon is %s's", e.ID, user, c.UserID)
			}
			cause, _ := e.Data["causeEventId"].(string)
			rule, _ := e.Data["ruleId"].(string)
			user, _ := e.Data["userId"].(string)
			if cause != "" {
				fx := hook.Effect(cause, rule, user)
				rewards[fx]++
				if !t.Effects[fx] {
					bad(RewardOnce, "reward %s issued without its effect recorded", fx)
				}
			}
		case event.CouponRedeemed:
			redeemedEvents[code]++
		}
	}
	for fx, n := range rewards {
		if n > 1 {
			bad(RewardOnce, "reward %s issued %d times", fx, n)
		}
	}
	for code, c := range t.Coupons {
		if n := issuedEvents[code]; n != 1 {
			bad(CouponEvent, "coupon %s has %d coupon.issued events", code, n)
		}
		n := redeemedEvents[code]
		switch {
		case n > 1:
			bad(RedeemedOnce, "coupon %s redeemed %d times", code, n)
		case c.Status == "REDEEMED" && n != 1:
			bad(RedeemedOnce, "coupon %s is REDEEMED without its coupon.redeemed event", code)
		case c.Status != "REDEEMED" && n != 0:
			bad(RedeemedOnce, "coupon %s is %s but was redeemed", code, c.Status)
		}
	}
	for code, n := range redeemedEvents {
		if _, ok := t.Coupons[code]; !ok {
			bad(RedeemedOnce, "%d coupon.redeemed events for coupon %q, which does not exist", n, code)
		}
	}
}

func (t *Table) checkReferrals(bad reporter) {
	bound := map[UserKey][]event.Event{}
	qualified := map[UserKey]int{}
	for _, e := range t.Events {
		referee, _ := e.Data["refereeId"].(string)
		switch e.Type {
		case event.ReferralBound:
			bound[UserKey{e.Tenant, referee}] = append(bound[UserKey{e.Tenant, referee}], e)
		case event.ReferralQualified:
			qualified[UserKey{e.Tenant, referee}]++
		}
	}
	for k, evs := range bound {
		b, ok := t.Bindings[k]
		switch {
		case len(evs) > 1:
			bad(ReferrerOnce, "%s bound %d times", k.User, len(evs))
		case !ok:
			bad(ReferrerOnce, "referral.bound of %s without a binding", k.User)
		case evs[0].Data["referrerId"] != b.ReferrerID:
			bad(ReferrerOnce, "%s is bound to %s, referral.bound says %v", k.User, b.ReferrerID, evs[0].Data["referrerId"])
		}
	}
	friendOf := map[UserKey][]string{}
	for _, f := range t.Friends {
		k := UserKey{f.Tenant, f.RefereeID}
		friendOf[k] = append(friendOf[k], f.ReferrerID)
	}
	for k, b := range t.Bindings {
		if len(bound[k]) != 1 {
			bad(ReferrerOnce, "%s is bound with %d referral.bound events", k.User, len(bound[k]))
		}
		if fs := friendOf[k]; len(fs) != 1 || fs[0] != b.ReferrerID {
			bad(ReferrerOnce, "%s is bound to %s but listed as a friend of %v", k.User, b.ReferrerID, fs)
		}
		if back, ok := t.Bindings[UserKey{k.Tenant, b.ReferrerID}]; ok && back.ReferrerID == k.User {
			bad(ReferralLoop, "%s and %s referred each other", k.User, b.ReferrerID)
		}
	}
	for k, fs := range friendOf {
		if _, ok := t.Bindings[k]; !ok {
			bad(ReferrerOnce, "%s is a friend of %v without a binding", k.User, fs)
		}
	}
	for k, n := range qualified {
		if n > 1 {
			bad(QualifiedOnce, "%s's referral qualified %d times", k.User, n)
		}
	}
	for code, c := range t.Codes {
		if mine := t.UserCodes[UserKey{c.Tenant, c.UserID}]; mine != code {
			bad(CodeOwner, "code %s is %s's, whose own copy says %q", code, c.UserID, mine)
		}
	}
	for u, code := range t.UserCodes {
		if c, ok := t.Codes[code]; !ok || c.UserID != u.User || c.Tenant != u.Tenant {
			bad(CodeOwner, "%s's code %s is not theirs", u.User, code)
		}
	}
}

// checkRewardsGiven: every coupon a rule (or the group voucher) owes for an
// event was issued or dead-lettered, once the stream has been handled.
func (t *Table) checkRewardsGiven(bad reporter) {
	rulesOf := map[string][]Rule{}
	for _, r := range t.Rules {
		if r.IssueCoupon != nil {
			rulesOf[r.Tenant+"\x00"+r.Event] = append(rulesOf[r.Tenant+"\x00"+r.Event], r)
		}
	}
	owe := func(e event.Event, rule string, to hook.Recipient) {
		users, err := hook.Recipients(e, to)
		if err != nil {
			users = []string{"-"}
		}
		for _, u := range users {
			// The effect is recorded in the write that issued the coupon or
			// kept the dead letter.
			if !t.Effects[hook.Effect(e.ID, rule, u)] {
				bad(RewardGiven, "%s %s: rule %s owes %s a coupon, neither issued nor dead-lettered", e.Type, e.ID, rule, u)
			}
		}
	}
	for _, e := range t.Events {
		for _, r := range rulesOf[e.Tenant+"\x00"+string(e.Type)] {
			owe(e, r.RuleID, hook.Recipient(r.IssueCoupon.To))
		}
		if tpl, _ := e.Data["voucherTemplateId"].(string); e.Type == event.GroupSucceeded && tpl != "" {
			owe(e, hook.GroupVoucherRule, hook.Members)
		}
	}
}

// Counts summarises what a table holds, for reports.
func (t *Table) Counts() map[string]int {
	n := map[string]int{
		"items": t.Items, "codes": len(t.Codes), "bindings": len(t.Bindings), "rooms": len(t.Rooms),
		"members": len(t.Members), "coupons": len(t.Coupons), "events": len(t.Events),
		"deadLetters": len(t.DeadLetters),
	}
	for _, r := range t.Rooms {
		n["rooms."+strings.ToLower(r.Status)]++
	}
	for _, c := range t.Coupons {
		n["coupons."+strings.ToLower(c.Status)]++
		if c.Source != "claim" {
			n["coupons.rewards"]++
		}
	}
	return n
}
