// Package coupon is what clinics hand out to bring patients in: templates
// (cash off, percent off with a cap, a gift at the visit, a service at a set
// price), claims that never oversell nor exceed a patient's limit, the
// coupons patients hold, and their redemption at the front desk (核销). It
// holds the rules; how they are stored is the Store's business.
package coupon

import (
	"time"
	"unicode/utf8"

	"github.com/laoyou/laoyou/shared/apierr"
)

// Kind is what a coupon is worth.
type Kind string

const (
	Cash    Kind = "CASH"    // valueFen off
	Percent Kind = "PERCENT" // percentOff off, at most maxOffFen
	Gift    Kind = "GIFT"    // 上门礼: a gift handed out at the visit
	Voucher Kind = "VOUCHER" // a service at a set price (valueFen)
)

// Limits of a template's fields.
const (
	MaxTitle        = 60          // characters
	MaxAmountFen    = 100_000_000 // ¥1,000,000
	MaxStock        = 10_000_000
	MaxPerUserLimit = 100
	MaxValidDays    = 3650
)

// Stock sharding. A claim writes one shard item in a transaction, which
// costs two write units, and one key takes 1,000 write units a second: one
// shard sustains 500 claims/s, MaxShards 32,000/s, above the 20,000/s spike
// a viral campaign brings (docs/DESIGN.md, hot keys). Small stocks stay on few
// shards: a shard holding a handful of units empties at once, and near
// sell-out every claim that meets an empty shard costs another write.
const (
	MaxShards     = 64
	UnitsPerShard = 8
)

// ShardsFor is the number of stock shards for a stock; 0 for unlimited.
func ShardsFor(stock int64) int {
	if stock <= 0 {
		return 0
	}
	n := (stock + UnitsPerShard - 1) / UnitsPerShard
	return int(min(n, MaxShards))
}

// SplitStock spreads units over n shards as evenly as they go.
func SplitStock(units int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = units / int64(n)
		if int64(i) < units%int64(n) {
			out[i]++
		}
	}
	return out
}

// Template is what coupons are issued from, per tenant.
type Template struct {
	Tenant      string
	ID          string
	Title       string
	Kind        Kind
	ValueFen    int64 // CASH: amount off; VOUCHER: the service's price; GIFT: the gift's worth
	PercentOff  int   // PERCENT: 1..99
	MaxOffFen   int64 // PERCENT: the cap
	MinSpendFen int64
	// Validity is a fixed window (ValidFrom, optional, to ValidTo) or
	// ValidDays from the moment of issue.
	ValidFrom    time.Time
	ValidTo      time.Time
	ValidDays    int
	Stock        int64 // 0: unlimited
	Shards       int   // stock shards, fixed when the template is created
	PerUserLimit int   // claims per patient
	Claimable    bool  // false: issued by hook rules only
	// Issued counts coupons issued from a limited stock, rolled up from
	// the stock shards after each stream batch: seconds behind the claims.
	Issued    int64
	UpdatedAt time.Time
}

// Remaining is the stock not yet issued, as of the last roll-up (seconds
// behind the claims, never below zero); nil when unlimited.
func (t Template) Remaining() *int64 {
	if t.Stock == 0 {
		return nil
	}
	r := max(0, t.Stock-t.Issued)
	return &r
}

// IssuableAt reports whether coupons issued at now would be valid for any
// time at all.
func (t Template) IssuableAt(now time.Time) bool {
	return t.ValidDays > 0 || now.Before(t.ValidTo)
}

// ClaimableAt reports whether patients may claim the template at now.
func (t Template) ClaimableAt(now time.Time) bool { return t.Claimable && t.IssuableAt(now) }

// Validity is the window of a coupon issued at issuedAt.
func (t Template) Validity(issuedAt time.Time) (from, to time.Time) {
	if t.ValidDays > 0 {
		return issuedAt, issuedAt.Add(time.Duration(t.ValidDays) * 24 * time.Hour)
	}
	from = issuedAt
	if !t.ValidFrom.IsZero() {
		from = t.ValidFrom
	}
	return from, t.ValidTo
}

// Validate checks a template as an admin defines it, at now. Errors are
// BAD_REQUEST and name the field.
func (t Template) Validate(now time.Time) error {
	if t.Title == "" {
		return apierr.Missing("title")
	}
	if utf8.RuneCountInString(t.Title) > MaxTitle {
		return apierr.Invalid("title", "must be at most 60 characters")
	}
	if err := t.validateValue(); err != nil {
		return err
	}
	if t.MinSpendFen < 0 || t.MinSpendFen > MaxAmountFen {
		return apierr.Invalid("minSpendFen", "must be an amount in fen from 0 to 100000000")
	}
	if err := t.validateValidity(now); err != nil {
		return err
	}
	if t.Stock < 0 || t.Stock > MaxStock {
		return apierr.Invalid("stock", "must be from 0 (unlimited) to 10000000")
	}
	if t.PerUserLimit < 1 || t.PerUserLimit > MaxPerUserLimit {
		return apierr.Invalid("perUserLimit", "must be from 1 to 100")
	}
	return nil
}

func (t Template) validateValue() error {
	if t.ValueFen < 0 || t.ValueFen > MaxAmountFen {
		return apierr.Invalid("valueFen", "must be an amount in fen from 0 to 100000000")
	}
	if t.Kind != Percent {
		if t.PercentOff != 0 {
			return apierr.Invalid("percentOff", "is only for PERCENT coupons")
		}
		if t.MaxOffFen != 0 {
			return apierr.Invalid("maxOffFen", "is only for PERCENT coupons")
		}
	}
	switch t.Kind {
	case "":
		return apierr.Missing("kind")
	case Cash:
		if t.ValueFen == 0 {
			return apierr.Invalid("valueFen", "must be a positive amount in fen for a CASH coupon")
		}
	case Percent:
		if t.ValueFen != 0 {
			return apierr.Invalid("valueFen", "is not for PERCENT coupons: use percentOff and maxOffFen")
		}
		if t.PercentOff < 1 || t.PercentOff > 99 {
			return apierr.Invalid("percentOff", "must be from 1 to 99 for a PERCENT coupon")
		}
		if t.MaxOffFen <= 0 || t.MaxOffFen > MaxAmountFen {
			return apierr.Invalid("maxOffFen", "must be a positive amount in fen: it caps a PERCENT coupon")
		}
	case Gift, Voucher:
	default:
		return apierr.Invalid("kind", "must be CASH, PERCENT, GIFT or VOUCHER")
	}
	return nil
}

func (t Template) validateValidity(now time.Time) error {
	window := !t.ValidFrom.IsZero() || !t.ValidTo.IsZero()
	switch {
	case t.ValidDays < 0 || t.ValidDays > MaxValidDays:
		return apierr.Invalid("validDays", "must be from 1 to 3650")
	case t.ValidDays > 0 && window:
		return apierr.Invalid("validDays", "cannot be combined with validFrom or validTo: validity is a fixed window or a number of days from issue")
	case t.ValidDays > 0:
		return nil
	case t.ValidTo.IsZero() && !t.ValidFrom.IsZero():
		return apierr.Missing("validTo")
	case t.ValidTo.IsZero():
		return apierr.Errorf(op("Validate"), apierr.BadRequest, `field "validTo" or "validDays" is required`)
	case !t.ValidFrom.IsZero() && !t.ValidFrom.Before(t.ValidTo):
		return apierr.Invalid("validTo", "must be after validFrom")
	case !t.ValidTo.After(now):
		return apierr.Invalid("validTo", "must be in the future")
	}
	return nil
}

// Replacing says how a template replaces prev, the stored one: the stock's
// mode (limited or unlimited) and its shards are fixed at creation, and a
// limited stock can be raised, never lowered, since what was claimed cannot
// be taken back and lowering would race the claims in flight. A raise is
// spread over the existing shards; adds[i] is what shard i gains.
func (t *Template) Replacing(prev Template) (adds []int64, err error) {
	t.Issued = prev.Issued
	switch {
	case prev.Stock == 0 && t.Stock != 0:
		return nil, apierr.Invalid("stock", "cannot be limited: this template was created with unlimited stock (0)")
	case prev.Stock != 0 && t.Stock == 0:
		return nil, apierr.Invalid("stock", "cannot become unlimited: this template was created with a limited stock")
	case t.Stock < prev.Stock:
		return nil, apierr.Errorf(op("Replacing"), apierr.BadRequest,
			"field %q can only be raised: it is %d", "stock", prev.Stock)
	}
	t.Shards = prev.Shards
	if t.Stock == prev.Stock || prev.Shards == 0 {
		return nil, nil
	}
	return SplitStock(t.Stock-prev.Stock, prev.Shards), nil
}

func op(name string) apierr.Op { return apierr.Op("coupon." + name) }
