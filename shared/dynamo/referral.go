package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/mydata"
	"github.com/laoyou/laoyou/shared/referral"
)

var _ referral.Store = (*ReferralStore)(nil)

// ReferralStore keeps codes, bindings and the referrer's friend list.
//
// Items:
//
//	CODE#<code> / _                 the code, unique across tenants
//	T#<t>#U#<user> / REF#CODE       the same code, under its owner
//	T#<t>#U#<referee> / BOUND_TO    the referee's one binding
//	T#<t>#U#<referrer> / REF#F#<referee>   the friend as the referrer sees them
//	T#<t>#U#<user> / PATIENT        the user has a recorded clinic visit
//	T#<t>#U#<referrer> / CAP#<yyyy-mm>     the referrer's rewarded referrals that month ("n")
//	VISIT#<t>#<visitId> / _         a clinic visit and what it did (see visit.go)
type ReferralStore struct{ *Store }

type codeItem struct {
	key
	Kind        string    `dynamodbav:"kind"`
	Code        string    `dynamodbav:"code"`
	Tenant      string    `dynamodbav:"tenant"`
	UserID      string    `dynamodbav:"userId"`
	DisplayName string    `dynamodbav:"displayName"`
	PhoneHash   string    `dynamodbav:"phoneHash,omitempty"`
	Role        string    `dynamodbav:"role"`
	CreatedAt   time.Time `dynamodbav:"createdAt"`
	// Req is on the owner's copy only: a retry of the request that made the
	// code finds it there (see referral.Service.MyCode).
	Req string `dynamodbav:"req,omitempty"`
	// ErasedAt: its owner was erased; the code resolves no more, and its
	// key keeps it from being issued again.
	ErasedAt *time.Time `dynamodbav:"erasedAt,omitempty"`
}

func (i codeItem) code() *referral.Code {
	return &referral.Code{
		Code: i.Code, Tenant: i.Tenant, UserID: i.UserID, DisplayName: i.DisplayName,
		PhoneHash: i.PhoneHash, Role: auth.Role(i.Role), CreatedAt: i.CreatedAt, Req: i.Req,
	}
}

func newCodeItem(k key, c referral.Code) codeItem {
	return codeItem{
		key: k, Kind: kindCode, Code: c.Code, Tenant: c.Tenant, UserID: c.UserID,
		DisplayName: c.DisplayName, PhoneHash: c.PhoneHash, Role: string(c.Role), CreatedAt: c.CreatedAt,
	}
}

// CodeOf reads the owner's copy of their code and their profile's phone
// hash in one BatchGetItem.
func (s ReferralStore) CodeOf(ctx context.Context, tenant, userID string) (*referral.Code, string, error) {
	var it codeItem
	var profile profileItem
	found, err := s.getWith(ctx, key{PK: userPK(tenant, userID), SK: skCode}, &it, profileKey(tenant, userID), &profile)
	if !found || err != nil || it.ErasedAt != nil {
		return nil, profile.PhoneHash, err
	}
	return it.code(), profile.PhoneHash, nil
}

// SaveCode writes the code and the owner's copy in one transaction, each
// conditional on not existing: one code per user, one user per code.
func (s ReferralStore) SaveCode(ctx context.Context, c referral.Code) (*referral.CodeConflict, error) {
	mine := newCodeItem(key{PK: userPK(c.Tenant, c.UserID), SK: skCode}, c)
	mine.Req = c.Req
	minePut, err := s.putIf(mine, notExists())
	if err != nil {
		return nil, err
	}
	global, err := s.putIf(newCodeItem(key{PK: codePK(c.Code), SK: skSelf}, c), notExists())
	if err != nil {
		return nil, err
	}
	cancelled, err := s.transact(ctx, tx{parts: []part{
		{"mine", minePut}, {"code", global}, {"notErased", s.notErased(c.Tenant, c.UserID)},
	}})
	switch {
	case err != nil:
		return nil, err
	case cancelled == nil:
		return nil, nil
	case cancelled.by("notErased").ConditionFailed():
		return nil, mydata.ErrErased
	case cancelled.by("mine").ConditionFailed():
		it, err := decodeAs[codeItem](cancelled.by("mine").Item)
		if err != nil {
			return nil, err
		}
		return &referral.CodeConflict{Existing: it.code()}, nil
	default:
		return &referral.CodeConflict{Taken: true}, nil
	}
}

// FindCode reads a code by its value.
func (s ReferralStore) FindCode(ctx context.Context, code string) (*referral.Code, error) {
	var it codeItem
	found, err := s.getItem(ctx, key{PK: codePK(code), SK: skSelf}, &it)
	if !found || err != nil || it.ErasedAt != nil {
		return nil, err
	}
	return it.code(), nil
}

type bindingItem struct {
	key
	Kind         string    `dynamodbav:"kind"`
	Tenant       string    `dynamodbav:"tenant"`
	RefereeID    string    `dynamodbav:"refereeId"`
	ReferrerID   string    `dynamodbav:"referrerId"`
	Code         string    `dynamodbav:"code"`
	ReferrerName string    `dynamodbav:"referrerName"`
	RefereeName  string    `dynamodbav:"refereeName"`
	Stage        string    `dynamodbav:"stage"`
	BoundAt      time.Time `dynamodbav:"boundAt"`
	// BoundMs is BoundAt as a number, for the condition that lets an
	// expired binding be replaced.
	BoundMs     int64      `dynamodbav:"boundMs"`
	VisitID     string     `dynamodbav:"visitId,omitempty"`
	QualifiedAt *time.Time `dynamodbav:"qualifiedAt,omitempty"`
}

func (i bindingItem) binding() *referral.Binding {
	return &referral.Binding{
		Tenant: i.Tenant, RefereeID: i.RefereeID, ReferrerID: i.ReferrerID, Code: i.Code,
		ReferrerName: i.ReferrerName, RefereeName: i.RefereeName, Stage: referral.Stage(i.Stage), BoundAt: i.BoundAt,
		VisitID: i.VisitID,
	}
}

func bindingKey(tenant, referee string) key { return key{PK: userPK(tenant, referee), SK: skBoundTo} }

func friendKey(tenant, referrer, referee string) key {
	return key{PK: userPK(tenant, referrer), SK: skFriend + referee}
}

type friendItem struct {
	key
	Kind        string    `dynamodbav:"kind"`
	Tenant      string    `dynamodbav:"tenant"`
	RefereeID   string    `dynamodbav:"refereeId"`
	DisplayName string    `dynamodbav:"displayName"`
	Stage       string    `dynamodbav:"stage"`
	BoundAt     time.Time `dynamodbav:"boundAt"`
}

// Bind writes the binding, the referrer's friend entry and the event in one
// transaction. Its conditions are the binding rules that need stored state:
// the referee is unbound (first bind wins) or their binding expired
// unqualified (bound before b.ReplaceBoundBefore), has no recorded visit,
// and the referrer is not bound to the referee (no A→B→A loop).
func (s ReferralStore) Bind(ctx context.Context, b referral.Binding, e event.Event) (*referral.BindConflict, error) {
	free := notExists()
	if !b.ReplaceBoundBefore.IsZero() {
		free = free.Or(expression.Name("stage").Equal(expression.Value(string(referral.Bound))).
			And(expression.Name("boundMs").LessThan(expression.Value(b.ReplaceBoundBefore.UnixMilli()))))
	}
	binding, err := s.putIf(bindingItem{
		key:  bindingKey(b.Tenant, b.RefereeID),
		Kind: kindBinding, Tenant: b.Tenant, RefereeID: b.RefereeID, ReferrerID: b.ReferrerID, Code: b.Code,
		ReferrerName: b.ReferrerName, RefereeName: b.RefereeName, Stage: string(b.Stage), BoundAt: b.BoundAt,
		BoundMs: b.BoundAt.UnixMilli(),
	}, free)
	if err != nil {
		return nil, err
	}
	newcomer := s.check(key{PK: userPK(b.Tenant, b.RefereeID), SK: skPatient}, notExists())
	noLoop := s.check(key{PK: userPK(b.Tenant, b.ReferrerID), SK: skBoundTo},
		notExists().Or(expression.Name("referrerId").NotEqual(expression.Value(b.RefereeID))))
	friend, err := s.put(friendItem{
		key:  friendKey(b.Tenant, b.ReferrerID, b.RefereeID),
		Kind: kindFriend, Tenant: b.Tenant, RefereeID: b.RefereeID, DisplayName: b.RefereeName,
		Stage: string(b.Stage), BoundAt: b.BoundAt,
	})
	if err != nil {
		return nil, err
	}
	ev, err := s.eventPut(e)
	if err != nil {
		return nil, err
	}
	cancelled, err := s.transact(ctx, tx{parts: []part{
		{"binding", binding}, {"newcomer", newcomer}, {"noLoop", noLoop}, {"friend", friend}, {"event", ev},
		{"notErased:referee", s.notErased(b.Tenant, b.RefereeID)}, {"notErased:referrer", s.notErased(b.Tenant, b.ReferrerID)},
	}})
	switch {
	case err != nil || cancelled == nil:
		return nil, err
	case cancelled.by("notErased:referee").ConditionFailed():
		return nil, mydata.ErrErased
	case cancelled.by("notErased:referrer").ConditionFailed():
		return nil, apierr.E(apierr.CodeNotFound, "no such referral code")
	}
	conflict := &referral.BindConflict{
		ExistingPatient: cancelled.by("newcomer").ConditionFailed(),
		Loop:            cancelled.by("noLoop").ConditionFailed(),
	}
	if held := cancelled.by("binding"); held.ConditionFailed() {
		var it bindingItem
		if err := attributevalue.UnmarshalMap(held.Item, &it); err != nil {
			return nil, err
		}
		conflict.Existing = it.binding()
	}
	return conflict, nil
}

// Referrals reads the user's code and friends with one Query.
func (s ReferralStore) Referrals(ctx context.Context, tenant, userID string) (*referral.Code, []referral.Friend, error) {
	var code *referral.Code
	var friends []referral.Friend
	for page, err := range s.queryPages(ctx, prefixQuery(userPK(tenant, userID), skReferral)) {
		if err != nil {
			return nil, nil, err
		}
		for _, item := range page {
			sk := item["sk"].(*types.AttributeValueMemberS).Value
			switch {
			case sk == skCode:
				it, err := decodeAs[codeItem](item)
				if err != nil {
					return nil, nil, err
				}
				code = it.code()
			case strings.HasPrefix(sk, skFriend):
				it, err := decodeAs[friendItem](item)
				if err != nil {
					return nil, nil, err
				}
				friends = append(friends, referral.Friend{
					DisplayName: it.DisplayName, Stage: referral.Stage(it.Stage), BoundAt: it.BoundAt,
				})
			}
		}
	}
	return code, friends, nil
}

// VisitorOf reads the user's binding and role record with one strongly
// consistent BatchGetItem, so a visit right after a bind sees it.
func (s ReferralStore) VisitorOf(ctx context.Context, tenant, userID string) (referral.Visitor, error) {
	v, _, err := s.visitor(ctx, tenant, userID, false)
	return v, err
}

// FriendStages returns the stage of each of the referrer's friends, read
// consistently (a milestone is judged right after a qualification).
func (s ReferralStore) FriendStages(ctx context.Context, tenant, referrerID string) ([]referral.Stage, error) {
	q := prefixQuery(userPK(tenant, referrerID), skFriend)
	q.attrs, q.consistent = []string{"stage"}, true
	friends, err := queryAll(ctx, s.Store, q, decodeAs[friendItem])
	if err != nil {
		return nil, err
	}
	stages := make([]referral.Stage, len(friends))
	for i, f := range friends {
		stages[i] = referral.Stage(f.Stage)
	}
	return stages, nil
}
