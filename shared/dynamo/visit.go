package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/referral"
)

var (
	_ referral.VisitStore = (*ReferralStore)(nil)
	_ referral.HoldStore  = (*ReferralStore)(nil)
)

// Visits, caps and held rewards.
//
//	VISIT#<t>#<visitId> / _               the visit, its answer, and what it did: whether it
//	                                      qualified a referral, the codes of its rewards still
//	                                      on hold ("held", a string set), "released", "rev"
//	                                      (bumped by every change to held/released, which a
//	                                      refund conditions on) and "refundedAt"
//	T#<t>#U#<user> / PATIENT              the user has a recorded visit (Bind refuses them)
//	T#<t>#U#<referrer> / CAP#<yyyy-mm>    rewarded referrals of the month, "n" < the cap
//	COUPON#<code> / _                     a held reward: status PENDING, expShard HOLD#n and
//	                                      expAt (its release, RFC 3339) in the Expiring index
const (
	kindVisit   = "visit"
	kindPatient = "patient"
	kindCap     = "referralCap"

	skCap = "CAP#"

	// holdShards spreads held rewards over this many partitions of the
	// Expiring index; the releaser queries each, every run. Rewards are
	// written at the pace of clinic visits, far below a partition's 1,000
	// writes a second: four leave room for a chain-wide import of visits
	// and keep an idle run at four Queries. The group-buy closer uses the
	// same index under EXP#nn, which never meets HOLD#n.
	holdShards = 4
	// capKeep outlives the month a cap counts and any refund of it.
	capKeep = 400 * 24 * time.Hour
)

func visitKey(tenant, visitID string) key {
	return key{PK: "VISIT#" + tenant + "#" + visitID, SK: skSelf}
}
func patientKey(tenant, user string) key { return key{PK: userPK(tenant, user), SK: skPatient} }
func capKey(tenant, referrer, month string) key {
	return key{PK: userPK(tenant, referrer), SK: skCap + month}
}

// holdShardOf spreads held coupons by code.
func holdShardOf(code string) string {
	return "HOLD#" + strconv.Itoa(shardOf(code, holdShards))
}

type visitItem struct {
	key
	Kind      string    `dynamodbav:"kind"`
	Tenant    string    `dynamodbav:"tenant"`
	VisitID   string    `dynamodbav:"visitId"`
	UserID    string    `dynamodbav:"userId"`
	VisitKind string    `dynamodbav:"visitKind"`
	AmountFen *int64    `dynamodbav:"amountFen,omitempty"`
	StaffID   string    `dynamodbav:"staffId"`
	At        time.Time `dynamodbav:"at"`
	// ReferralStage is the answer's referral stage ("" for none).
	ReferralStage string     `dynamodbav:"referralStage,omitempty"`
	Qualified     bool       `dynamodbav:"qualified"`
	ReferrerID    string     `dynamodbav:"referrerId,omitempty"`
	Rewardable    bool       `dynamodbav:"rewardable"`
	CapMonth      string     `dynamodbav:"capMonth,omitempty"`
	Held          []string   `dynamodbav:"held,stringset,omitempty"`
	HeldStock     []string   `dynamodbav:"heldStock,stringset,omitempty"` // "<code>#<templateId>#<shard>"
	Released      bool       `dynamodbav:"released"`
	Rev           int64      `dynamodbav:"rev"`
	RefundedAt    *time.Time `dynamodbav:"refundedAt,omitempty"`
	Reversed      int        `dynamodbav:"reversed"`
	// OwnerKey and OwnerSort list the visit under its patient in the
	// ByOwner index (export).
	OwnerKey  string `dynamodbav:"ownerKey,omitempty"`
	OwnerSort string `dynamodbav:"ownerSort,omitempty"`
}

func newVisitItem(v referral.RecordedVisit) visitItem {
	it := visitItem{
		key:  visitKey(v.Tenant, v.VisitID),
		Kind: kindVisit, Tenant: v.Tenant, VisitID: v.VisitID, UserID: v.UserID, VisitKind: string(v.Kind),
		AmountFen: v.AmountFen, StaffID: v.StaffID, At: v.At,
		Qualified: v.Qualified, ReferrerID: v.ReferrerID, Rewardable: v.Rewardable, CapMonth: v.CapMonth,
		OwnerKey: userPK(v.Tenant, v.UserID), OwnerSort: ownerSortAt(ownerVisit, v.At, v.VisitID),
	}
	if v.Result.Referral != nil {
		it.ReferralStage = string(v.Result.Referral.Stage)
	}
	return it
}

func (i visitItem) visit() *referral.RecordedVisit {
	v := &referral.RecordedVisit{
		Visit: referral.Visit{
			Tenant: i.Tenant, VisitID: i.VisitID, UserID: i.UserID, Kind: referral.VisitKind(i.VisitKind),
			AmountFen: i.AmountFen, StaffID: i.StaffID, At: i.At,
		},
		Result:    referral.VisitResult{VisitID: i.VisitID},
		Qualified: i.Qualified, ReferrerID: i.ReferrerID, Rewardable: i.Rewardable, CapMonth: i.CapMonth,
		Held: i.Held, Released: i.Released, Rev: i.Rev, Refunded: i.RefundedAt != nil, Reversed: i.Reversed,
	}
	for _, entry := range i.HeldStock {
		code, unit, ok := parseHeldStock(entry)
		if ok {
			if v.HeldStock == nil {
				v.HeldStock = map[string]referral.StockUnit{}
			}
			v.HeldStock[code] = unit
		}
	}
	if i.ReferralStage != "" {
		v.Result.Referral = &referral.ReferralState{Stage: referral.Stage(i.ReferralStage)}
	}
	return v
}

// visitFrom reads a visit as a failed condition returns it.
var visitFrom = decodeVia(visitItem.visit)

// RecordVisit writes, in one transaction: the visit, on the condition that
// its id is new; the user's PATIENT marker; a staff or admin reporter's
// role where none is recorded (see RoleStore); and with q the
// qualification: binding and friend entry BOUND→QUALIFIED (on the
// condition that they are still BOUND, to the referrer read), the
// referrer's count of the month (on the condition that it is under the
// cap), for each side not known to be staff a check that its role record
// says neither staff nor admin, and referral.qualified.
func (s ReferralStore) RecordVisit(ctx context.Context, v referral.RecordedVisit, q *referral.Qualification) (*referral.VisitConflict, error) {
	put, err := s.putIf(newVisitItem(v), notExists())
	if err != nil {
		return nil, err
	}
	patient := s.update(patientKey(v.Tenant, v.UserID),
		expression.Set(expression.Name("kind"), expression.Value(kindPatient)).
			Set(expression.Name("tenant"), expression.Value(v.Tenant)).
			Set(expression.Name("firstVisitAt"), expression.IfNotExists(expression.Name("firstVisitAt"), expression.Value(v.At))), nil)
	t := tx{parts: []part{{"visit", put}, {"patient", patient}}}
	if v.StaffRole.IsStaff() && v.StaffID != v.UserID {
		t.add("role:reporter", s.seenRole(v.Tenant, v.StaffID, v.StaffRole, v.At))
	}
	if q != nil {
		if err := s.addQualification(&t, v, q); err != nil {
			return nil, err
		}
	}
	cancelled, err := s.transact(ctx, t)
	if err != nil || cancelled == nil {
		return nil, err
	}
	return visitConflict(cancelled, q)
}

// addQualification adds to t the writes that qualify the visit's binding.
func (s ReferralStore) addQualification(t *tx, v referral.RecordedVisit, q *referral.Qualification) error {
	b := q.Binding
	stillBound := expression.Name("stage").Equal(expression.Value(string(referral.Bound))).
		And(expression.Name("referrerId").Equal(expression.Value(b.ReferrerID)))
	t.add("binding", s.update(bindingKey(b.Tenant, b.RefereeID),
		expression.Set(expression.Name("stage"), expression.Value(string(referral.Qualified))).
			Set(expression.Name("visitId"), expression.Value(v.VisitID)).
			Set(expression.Name("qualifiedAt"), expression.Value(v.At)), &stillBound))
	friendBound := expression.Name("stage").Equal(expression.Value(string(referral.Bound)))
	t.add("friend", s.update(friendKey(b.Tenant, b.ReferrerID, b.RefereeID),
		expression.Set(expression.Name("stage"), expression.Value(string(referral.Qualified))), &friendBound))
	if q.Cap > 0 {
		t.add("cap", s.countUnder(capKey(b.Tenant, b.ReferrerID, q.CapMonth), q.Cap,
			expression.Set(expression.Name("kind"), expression.Value(kindCap)).
				Set(expression.Name("tenant"), expression.Value(b.Tenant)).
				Set(expression.Name("ttl"), expression.Value(s.ttlAfter(capKeep)))))
	}
	// A reporter who is the referrer is known staff: their record is
	// written by RecordVisit, never checked in the same transaction.
	if !q.StaffReferrer && b.ReferrerID != v.StaffID {
		t.add("role:referrer", s.notStaff(b.Tenant, b.ReferrerID))
	}
	if !q.StaffReferee && b.RefereeID != v.StaffID {
		t.add("role:referee", s.notStaff(b.Tenant, b.RefereeID))
	}
	ev, err := s.eventPut(q.Event)
	if err != nil {
		return err
	}
	t.add("event", ev)
	return nil
}

// visitConflict says why the visit's transaction was cancelled.
func visitConflict(cancelled *cancellation, q *referral.Qualification) (*referral.VisitConflict, error) {
	failedAt := func(name string) bool { return cancelled.by(name).ConditionFailed() }
	switch {
	case failedAt("visit"):
		existing, err := visitFrom(cancelled.by("visit").Item)
		if err != nil {
			return nil, err
		}
		return &referral.VisitConflict{Existing: existing}, nil
	case failedAt("binding") || failedAt("friend"):
		c := &referral.VisitConflict{BindingChanged: true}
		if held := cancelled.by("binding"); held.ConditionFailed() && len(held.Item) > 0 {
			var it bindingItem
			if err := attributevalue.UnmarshalMap(held.Item, &it); err != nil {
				return nil, err
			}
			if it.ReferrerID == q.Binding.ReferrerID {
				c.Stage = referral.Stage(it.Stage)
			}
		}
		return c, nil
	case failedAt("cap") || failedAt("role:referrer") || failedAt("role:referee"):
		return &referral.VisitConflict{
			CapReached: failedAt("cap"), StaffReferrer: failedAt("role:referrer"), StaffReferee: failedAt("role:referee"),
		}, nil
	}
	return nil, errors.New("dynamo: visit cancelled without a failed condition")
}

// VisitByID reads a visit with a strongly consistent read.
func (s ReferralStore) VisitByID(ctx context.Context, tenant, visitID string) (*referral.RecordedVisit, error) {
	var it visitItem
	found, err := s.getItemConsistent(ctx, visitKey(tenant, visitID), &it)
	if !found || err != nil {
		return nil, err
	}
	return it.visit(), nil
}

// Refund writes a refund in one transaction: the visit marked refunded, on
// the condition that it is unrefunded and still at the revision read (no
// reward issued or released since); each held reward VOID and out of the
// Expiring index, on the condition that it is PENDING; with r.Reverse the
// binding and friend entry QUALIFIED→REVERSED, the month's cap count given
// back and referral.reversed.
func (s ReferralStore) Refund(ctx context.Context, r referral.Refund) (changed bool, err error) {
	v := r.Visit
	upd := expression.Set(expression.Name("refundedAt"), expression.Value(r.At)).
		Set(expression.Name("reversed"), expression.Value(len(v.Held))).
		Add(expression.Name("rev"), expression.Value(1))
	if len(v.Held) > 0 {
		upd = upd.Delete(expression.Name("held"), expression.Value(types.AttributeValueMemberSS{Value: v.Held}))
	}
	asRead := expression.AttributeExists(expression.Name("pk")).
		And(expression.AttributeNotExists(expression.Name("refundedAt"))).
		And(expression.Name("rev").Equal(expression.Value(v.Rev)))
	t := tx{parts: []part{{"visit", s.update(visitKey(v.Tenant, v.VisitID), upd, &asRead)}}}
	pending := expression.Name("status").Equal(expression.Value(string(coupon.Pending)))
	for _, code := range v.Held {
		t.add("coupon", s.update(couponKey(code),
			expression.Set(expression.Name("status"), expression.Value(string(coupon.Void))).
				Set(expression.Name("voidedAt"), expression.Value(r.At)).
				Remove(expression.Name("expShard")).
				Remove(expression.Name("expAt")), &pending))
		if u, ok := v.HeldStock[code]; ok {
			// The voided reward's unit goes back to its template's stock, in
			// the same transaction as the void: never twice, never lost.
			t.add("stock", s.update(shardKey(v.Tenant, u.TemplateID, u.Shard),
				expression.Add(expression.Name("left"), expression.Value(1)), nil))
		}
	}
	if r.Reverse {
		qualified := expression.Name("stage").Equal(expression.Value(string(referral.Qualified)))
		bindingCond := qualified.And(expression.Name("visitId").Equal(expression.Value(v.VisitID)))
		t.add("binding", s.update(bindingKey(v.Tenant, v.UserID),
			expression.Set(expression.Name("stage"), expression.Value(string(referral.Reversed))).
				Set(expression.Name("reversedAt"), expression.Value(r.At)), &bindingCond))
		t.add("friend", s.update(friendKey(v.Tenant, v.ReferrerID, v.UserID),
			expression.Set(expression.Name("stage"), expression.Value(string(referral.Reversed))), &qualified))
		if v.CapMonth != "" && v.Rewardable {
			// A reversed referral was not rewarded after all: the month's
			// cap gets its unit back.
			t.add("cap", s.update(capKey(v.Tenant, v.ReferrerID, v.CapMonth),
				expression.Add(expression.Name("n"), expression.Value(-1)), nil))
		}
		if r.Event != nil {
			ev, err := s.eventPut(*r.Event)
			if err != nil {
				return false, err
			}
			t.add("event", ev)
		}
	}
	cancelled, err := s.transact(ctx, t)
	if err != nil {
		return false, err
	}
	return cancelled != nil, nil
}

// holdOnVisit is the transaction item that lists a held reward on its
// visit, on the condition that the visit exists unrefunded, with the stock
// unit it took when its template's stock is limited (shard >= 0).
func (s *Store) holdOnVisit(tenant, visitID, code, templateID string, shard int) types.TransactWriteItem {
	standing := expression.AttributeExists(expression.Name("pk")).
		And(expression.AttributeNotExists(expression.Name("refundedAt")))
	upd := expression.Add(expression.Name("held"), expression.Value(types.AttributeValueMemberSS{Value: []string{code}})).
		Add(expression.Name("rev"), expression.Value(1))
	if shard >= 0 {
		upd = upd.Add(expression.Name("heldStock"), expression.Value(types.AttributeValueMemberSS{
			Value: []string{code + "#" + templateID + "#" + strconv.Itoa(shard)},
		}))
	}
	return s.update(visitKey(tenant, visitID), upd, &standing)
}

func parseHeldStock(entry string) (code string, unit referral.StockUnit, ok bool) {
	code, rest, ok1 := strings.Cut(entry, "#")
	i := strings.LastIndex(rest, "#")
	if !ok1 || i < 0 {
		return "", referral.StockUnit{}, false
	}
	shard, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", referral.StockUnit{}, false
	}
	return code, referral.StockUnit{TemplateID: rest[:i], Shard: shard}, true
}

// HoldShards is how many partitions of the Expiring index held rewards use.
func (s ReferralStore) HoldShards() int { return holdShards }

// DueRewards reads the due entries of one hold shard (a Query of expShard =
// HOLD#n AND expAt <= now, oldest first), then the coupons themselves with
// one BatchGetItem. The index is eventually consistent: an entry may
// outlive its coupon's release for a moment, which ReleaseReward's
// condition absorbs; coupons no longer PENDING are left out.
func (s ReferralStore) DueRewards(ctx context.Context, shard int, now time.Time, limit int) ([]referral.HeldReward, error) {
	due, err := queryFirst(ctx, s.Store, query{
		index: expiringIndex,
		key: expression.Key("expShard").Equal(expression.Value(fmt.Sprintf("HOLD#%d", shard))).
			And(expression.Key("expAt").LessThanEqual(expression.Value(second(now)))),
		page: int32(min(limit, 100)), // one BatchGetItem takes 100 keys
	}, decodeAs[key])
	if err != nil || len(due) == 0 {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, 0, len(due))
	for _, k := range due {
		if strings.HasPrefix(k.PK, "COUPON#") {
			keys = append(keys, key{PK: k.PK, SK: skSelf}.av())
		}
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	var out []referral.HeldReward
	for _, av := range items {
		var it couponItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, err
		}
		if it.Status != string(coupon.Pending) || it.ReleaseAt == nil {
			continue
		}
		out = append(out, referral.HeldReward{
			CouponCode: it.Code, Tenant: it.Tenant, VisitID: it.VisitID,
			RefereeID: it.RefereeID, ReferrerID: it.ReferrerID, ReleaseAt: *it.ReleaseAt,
		})
	}
	return out, nil
}

// ReleaseReward releases one held reward in one transaction: the coupon
// PENDING→ISSUED and out of the Expiring index, on the condition that it is
// still PENDING; off its visit's held list. The first release of a visit's
// rewards (the visit not yet marked released) also turns the binding and
// friend entry QUALIFIED→REWARDED and records e; when that part's conditions
// fail (a later reward of the same visit), the release is written again
// without it: a second write, in the background job only.
func (s ReferralStore) ReleaseReward(ctx context.Context, h referral.HeldReward, at time.Time, e event.Event) (bool, error) {
	pending := expression.Name("status").Equal(expression.Value(string(coupon.Pending)))
	release := s.update(couponKey(h.CouponCode),
		expression.Set(expression.Name("status"), expression.Value(string(coupon.Issued))).
			Set(expression.Name("releasedAt"), expression.Value(at)).
			Remove(expression.Name("expShard")).
			Remove(expression.Name("expAt")), &pending)
	if h.VisitID == "" {
		cancelled, err := s.transact(ctx, tx{parts: []part{{"coupon", release}}})
		return err == nil && cancelled == nil, err
	}
	offVisit := expression.Delete(expression.Name("held"), expression.Value(types.AttributeValueMemberSS{Value: []string{h.CouponCode}})).
		Add(expression.Name("rev"), expression.Value(1)).
		Set(expression.Name("released"), expression.Value(true))
	firstRelease := expression.Name("released").Equal(expression.Value(false))
	qualified := expression.Name("stage").Equal(expression.Value(string(referral.Qualified)))
	ev, err := s.eventPut(e)
	if err != nil {
		return false, err
	}
	cancelled, err := s.transact(ctx, tx{parts: []part{
		{"coupon", release},
		{"visit", s.update(visitKey(h.Tenant, h.VisitID), offVisit, &firstRelease)},
		{"binding", s.update(bindingKey(h.Tenant, h.RefereeID),
			expression.Set(expression.Name("stage"), expression.Value(string(referral.Rewarded))).
				Set(expression.Name("rewardedAt"), expression.Value(at)), &qualified)},
		{"friend", s.update(friendKey(h.Tenant, h.ReferrerID, h.RefereeID),
			expression.Set(expression.Name("stage"), expression.Value(string(referral.Rewarded))), &qualified)},
		{"event", ev},
	}})
	switch {
	case err != nil:
		return false, err
	case cancelled == nil:
		return true, nil
	case cancelled.by("coupon").ConditionFailed():
		return false, nil // released by another run, or voided by a refund
	}
	visitExists := expression.AttributeExists(expression.Name("pk"))
	cancelled, err = s.transact(ctx, tx{parts: []part{
		{"coupon", release}, {"visit", s.update(visitKey(h.Tenant, h.VisitID), offVisit, &visitExists)},
	}})
	switch {
	case err != nil:
		return false, err
	case cancelled == nil:
		return true, nil
	case cancelled.by("coupon").ConditionFailed():
		return false, nil
	}
	// No such visit (written by hand): the coupon alone.
	cancelled, err = s.transact(ctx, tx{parts: []part{{"coupon", release}}})
	return err == nil && cancelled == nil, err
}
