package coupon

import (
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
)

// Status is where a coupon stands. Stored coupons are PENDING, ISSUED,
// REDEEMED or VOID; EXPIRED is never stored but read from the validity, so
// no job has to run for a coupon to expire.
type Status string

const (
	Pending  Status = "PENDING"  // a reward on hold, not yet usable
	Issued   Status = "ISSUED"   // usable within its validity
	Redeemed Status = "REDEEMED" // used at the clinic
	Expired  Status = "EXPIRED"  // its validity ended unused
	Void     Status = "VOID"     // withdrawn (a refunded treatment's reward)
)

// Source says how a patient came by a coupon.
type Source string

const (
	FromClaim    Source = "claim"    // claimed by the patient
	FromHook     Source = "hook"     // issued by a tenant's hook rule
	FromGroup    Source = "group"    // a succeeded group-buy room's voucher
	FromReferral Source = "referral" // a referral reward
)

// Coupon is one patient's coupon. Codes are unique across tenants.
type Coupon struct {
	Code        string
	Tenant      string
	UserID      string
	TemplateID  string
	Title       string
	Kind        Kind
	ValueFen    int64
	PercentOff  int
	MaxOffFen   int64
	MinSpendFen int64
	PriceFen    int64 // VOUCHER: what the patient pays for the service
	Status      Status
	ValidFrom   time.Time
	ValidTo     time.Time
	Source      Source
	IssuedAt    time.Time
	RedeemedAt  time.Time
	RedeemedBy  string // the staff member's user id
	RedeemedReq string // the idempotency scope of the request that redeemed it, if it had a key
	DealID      string // a group-buy voucher's deal, for the deal's stats
	Hold        *Hold  // a referral reward on hold; nil for every other coupon
}

// Hold is what keeps a referral reward PENDING: it is released (ISSUED) at
// Until, unless the visit that earned it is refunded first (VOID).
type Hold struct {
	Until      time.Time
	VisitID    string // the visit that qualified the referral
	RefereeID  string
	ReferrerID string
}

// couponFor is a coupon issued from t to user at issuedAt. A held coupon is
// PENDING, and a validity counted in days starts at its release, so the hold
// does not eat into it.
func (t Template) couponFor(code, user string, src Source, issuedAt time.Time, hold *Hold) Coupon {
	status, start := Issued, issuedAt
	if hold != nil {
		status = Pending
		start = maxTime(issuedAt, hold.Until)
	}
	from, to := t.Validity(start)
	c := Coupon{
		Code: code, Tenant: t.Tenant, UserID: user, TemplateID: t.ID, Title: t.Title, Kind: t.Kind,
		ValueFen: t.ValueFen, PercentOff: t.PercentOff, MaxOffFen: t.MaxOffFen, MinSpendFen: t.MinSpendFen,
		Status: status, ValidFrom: from, ValidTo: to, Source: src, IssuedAt: issuedAt, Hold: hold,
	}
	if t.Kind == Voucher {
		c.PriceFen = t.ValueFen
	}
	return c
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// StatusAt is the coupon's status as a patient sees it at now.
func (c Coupon) StatusAt(now time.Time) Status {
	if (c.Status == Issued || c.Status == Pending) && !now.Before(c.ValidTo) {
		return Expired
	}
	return c.Status
}

// redeemedIn says whether the coupon was redeemed by the request of
// idempotency scope req (never for a request without a key).
func (c Coupon) redeemedIn(req string) bool {
	return req != "" && c.Status == Redeemed && c.RedeemedReq == req
}

// redeemableAt says why staff of tenant cannot redeem c at now, or nil if
// they can. The store's condition enforces the same rule at the moment of
// writing; this names the reason.
func (c Coupon) redeemableAt(tenant string, now time.Time) error {
	const op = apierr.Op("coupon.Redeem")
	switch {
	case c.Tenant != tenant:
		// Another clinic's coupon does not exist for this caller.
		return apierr.E(op, apierr.CouponNotFound, "no such coupon")
	case c.Status == Redeemed:
		return apierr.E(op, apierr.AlreadyRedeemed, "this coupon was already redeemed")
	case c.Status == Void:
		return apierr.E(op, apierr.CouponNotActive, "this coupon was voided")
	case !now.Before(c.ValidTo):
		return apierr.E(op, apierr.CouponExpired, "this coupon has expired")
	case c.Status == Pending:
		return apierr.E(op, apierr.CouponNotActive, "this coupon is on hold and not usable yet")
	case now.Before(c.ValidFrom):
		return apierr.E(op, apierr.CouponNotActive, "this coupon is not valid yet")
	case c.Status != Issued:
		return apierr.E(op, apierr.CouponNotActive, "this coupon is not usable")
	}
	return nil
}
