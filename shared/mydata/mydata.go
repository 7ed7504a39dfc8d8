// Package mydata is a patient's rights over what Laoyou holds about them
// (PIPL articles 45 and 47): a copy of it in one document they can read,
// and its erasure. Erasure drops the person and keeps the counts: where
// others saw them they show as ErasedName, their referral code stops
// resolving, their unused coupons become VOID, and every write that would
// add to an erased user's data is refused. Storage is the Store's business.
package mydata

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
)

// ErasedName is how an erased user shows wherever others saw them (room
// rosters, a referrer's friend list, top referrers).
const ErasedName = "已注销用户"

// Export is everything Laoyou holds about one user. Names and phones in it
// are masked as they are stored; the openid is never shown, only whether
// one is linked.
type Export struct {
	UserID       string
	Tenant       string
	Profile      Profile
	ReferralCode *Code
	ReferredBy   *Referral  // the user's referrer
	Referrals    []Referral // the friends the user brought
	Coupons      []Coupon
	Rooms        []Room
	Visits       []Visit
	// Rewards are the coupons the user earned by referrals, rooms or hook
	// rules (also listed under coupons).
	Rewards []Coupon
	// ErasedAt is set when the user was erased; nothing else is then
	// answered.
	ErasedAt *time.Time
}

// Profile is who the user is to the clinic.
type Profile struct {
	DisplayName  string
	Phone        string // masked: 138****5678
	PhoneBoundAt *time.Time
	Role         string
	WeChatLinked bool
	FirstSignIn  *time.Time
}

// Code is the user's referral code.
type Code struct {
	Code      string
	CreatedAt time.Time
}

// Referral is the other side of a referral the user is in (their referrer,
// or a friend they brought), masked, and how far it got.
type Referral struct {
	DisplayName string
	Stage       string
	BoundAt     time.Time
}

// Coupon is one coupon the user holds or held, in any status.
type Coupon struct {
	CouponCode string
	TemplateID string
	Title      string
	Kind       string
	Status     string
	Source     string
	IssuedAt   time.Time
	ValidTo    time.Time
	RedeemedAt *time.Time
	VisitID    string // the visit that earned a referral reward
}

// Room is a group-buy room the user opened or joined.
type Room struct {
	GroupID  string
	DealID   string
	Leader   bool
	PriceFen int64
	JoinedAt time.Time
}

// Visit is a clinic visit recorded for the user.
type Visit struct {
	VisitID       string
	Kind          string
	AmountFen     *int64
	At            time.Time
	ReferralStage string
	Refunded      bool
}

// Erased is when a user was erased: the answer to an erasure, and, naming
// the user, to an export of an erased user.
type Erased struct {
	UserID   string
	ErasedAt time.Time
}

// Store reads and erases a user's data.
type Store interface {
	// Export reads everything held about the user with Queries of the
	// user's own items; found is false when nothing is held at all.
	Export(ctx context.Context, tenant, userID string) (x Export, found bool, err error)
	// MarkErased records the erasure and its event in one transaction,
	// unless the user was erased already; either way it answers when the
	// user was erased.
	MarkErased(ctx context.Context, tenant, userID string, at time.Time, e event.Event) (time.Time, error)
	// Scrub removes the user's personal data page by page, each change a
	// conditional write of its own; run again, it finishes what a crash
	// left and changes nothing twice.
	Scrub(ctx context.Context, tenant, userID string, at time.Time) error
}

// Service applies the data-rights rules.
type Service struct {
	Store Store
	Now   func() time.Time
}

// Export reads the caller's copy of their data; for an erased user it is
// only their Erasure.
func (s *Service) Export(ctx context.Context, tenant, userID string) (Export, error) {
	x, _, err := s.Store.Export(ctx, tenant, userID)
	if err != nil {
		return Export{}, apierr.E(apierr.Op("mydata.Export"), err)
	}
	return x, nil
}

// Erasure is when the user was erased, if they were: then it is all their
// export answers.
func (x Export) Erasure() (Erased, bool) {
	if x.ErasedAt == nil {
		return Erased{}, false
	}
	return Erased{UserID: x.UserID, ErasedAt: *x.ErasedAt}, true
}

// EraseSelf erases the caller.
func (s *Service) EraseSelf(ctx context.Context, caller auth.Caller) (Erased, error) {
	return s.erase(ctx, apierr.Op("mydata.EraseSelf"), caller.Tenant, caller.UserID)
}

// EraseUser erases a user of the admin's tenant, on the patient's request
// at the clinic. A user the tenant holds nothing about is NOT_FOUND, as a
// record of another tenant would be.
func (s *Service) EraseUser(ctx context.Context, tenant, userID string) (Erased, error) {
	const op = apierr.Op("mydata.EraseUser")
	if !auth.ValidID(userID) {
		return Erased{}, auth.InvalidID("userId")
	}
	_, found, err := s.Store.Export(ctx, tenant, userID)
	if err != nil {
		return Erased{}, apierr.E(op, err)
	}
	if !found {
		return Erased{}, apierr.E(op, apierr.NotFound, "no such user")
	}
	return s.erase(ctx, op, tenant, userID)
}

// erase marks the user erased (or finds when they were), then scrubs: a
// repeat continues a scrub that stopped and answers the same erasedAt.
func (s *Service) erase(ctx context.Context, op apierr.Op, tenant, userID string) (Erased, error) {
	now := s.Now().UTC().Truncate(time.Millisecond)
	e := event.New(event.UserErased, tenant, now, map[string]any{
		"userId": userID, "erasedAt": now.Format(time.RFC3339Nano),
	})
	at, err := s.Store.MarkErased(ctx, tenant, userID, now, e)
	if err != nil {
		return Erased{}, apierr.E(op, err)
	}
	if err := s.Store.Scrub(ctx, tenant, userID, at); err != nil {
		return Erased{}, apierr.E(op, err)
	}
	return Erased{ErasedAt: at}, nil
}

// ErrErased refuses a write that would add to an erased user's data: the
// erased caller's own (their token outlives the erasure by up to its
// lifetime) answers FORBIDDEN.
var ErrErased = apierr.E(apierr.Op("mydata"), apierr.Forbidden, "this account has been erased")
