package coupon

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/idempotency"
	"github.com/laoyou/laoyou/shared/mydata"
	"github.com/laoyou/laoyou/shared/share"
)

// Issue is one coupon to write, with everything that must hold for it in
// the same write.
type Issue struct {
	Coupon Coupon
	// Shard is the stock shard to take one unit from; -1 when the stock is
	// unlimited.
	Shard int
	// PerUserLimit bounds a claim: at most this many claims of the template
	// per patient. 0 for rewards, which the limit does not count.
	PerUserLimit int
	// Effect makes a reward happen once: the key of (event, rule,
	// recipient). Empty for claims.
	Effect string
	Event  event.Event // coupon.issued
}

// IssueConflict says which of an issue's conditions failed; nothing was
// written.
type IssueConflict struct {
	CodeTaken    bool   // the random code exists
	OutOfStock   bool   // the shard holds no unit
	LimitReached bool   // the patient claimed PerUserLimit already
	Done         bool   // the effect already happened
	DoneCoupon   string // the coupon it issued then, where recorded
	Withdrawn    bool   // a held reward's visit was refunded or is unknown
	Erased       bool   // the holder was erased (mydata)
}

// RedeemConflict is a redemption whose condition failed; Current is the
// coupon as it was (nil: there is none).
type RedeemConflict struct{ Current *Coupon }

// Store keeps templates, stock and coupons. Every write is one conditional
// call.
type Store interface {
	idempotency.Recorder
	TemplateSource
	// ClaimableTemplates lists the tenant's templates marked claimable.
	ClaimableTemplates(ctx context.Context, tenant string) ([]Template, error)
	// SaveTemplate creates t (prev nil: with its stock shards) or replaces
	// prev with t, adding adds[i] units to shard i, keeping the issued count;
	// saved is false, and nothing written, when the stored template is no
	// longer prev (another save came first).
	SaveTemplate(ctx context.Context, t Template, prev *Template, adds []int64) (saved bool, err error)
	// Issue writes in.Coupon and its event only if every condition of in
	// holds; otherwise it reports the conflict and writes nothing.
	Issue(ctx context.Context, in Issue) (*IssueConflict, error)
	// Coupon reads a coupon by code, or nil.
	Coupon(ctx context.Context, code string) (*Coupon, error)
	// CouponsOf lists a patient's coupons, newest first.
	CouponsOf(ctx context.Context, tenant, userID string) ([]Coupon, error)
	// Redeem marks the coupon REDEEMED by staff member by, in the request
	// of idempotency scope req ("" without a key), with its event, only if
	// it is ISSUED, of tenant and valid at at.
	Redeem(ctx context.Context, code, tenant, by, req string, at time.Time, e event.Event) (*RedeemConflict, error)
	// RefreshIssued sets the template's Issued to what its shards (shards
	// of them) no longer hold, from a reading taken after since, unless the
	// stored one was taken at or after since or a later one is stored.
	RefreshIssued(ctx context.Context, tenant, templateID string, shards int, since time.Time) error
}

// Service applies the coupon rules. Build one per process and keep it: it
// remembers sold-out stock shards between requests.
type Service struct {
	Store     Store
	Templates *TemplateCache
	Now       func() time.Time

	stock stockMemory
}

// SaveTemplate creates or replaces the tenant's template t.ID and returns it
// as saved.
func (s *Service) SaveTemplate(ctx context.Context, t Template) (Template, error) {
	const op = apierr.Op("coupon.SaveTemplate")
	now := s.Now().UTC()
	if err := t.Validate(now); err != nil {
		return Template{}, err
	}
	t.UpdatedAt = now
	for attempt := 0; ; attempt++ {
		prev, err := s.Store.Template(ctx, t.Tenant, t.ID)
		if err != nil {
			return Template{}, apierr.E(op, err)
		}
		var adds []int64
		if prev == nil {
			t.Shards, t.Issued = ShardsFor(t.Stock), 0
		} else if adds, err = t.Replacing(*prev); err != nil {
			return Template{}, err
		}
		if err := idempotency.Prepare(ctx, t); err != nil {
			return Template{}, apierr.E(op, err)
		}
		saved, err := s.Store.SaveTemplate(ctx, t, prev, adds)
		if err != nil {
			return Template{}, apierr.E(op, err)
		}
		if !saved {
			if attempt < 3 {
				continue // another admin saved it meanwhile: decide again on theirs
			}
			return Template{}, apierr.E(op, errors.New("coupon: template changed concurrently"))
		}
		s.Templates.Forget(t.Tenant, t.ID)
		return t, nil
	}
}

// ClaimableTemplates lists what patients of tenant may claim now.
func (s *Service) ClaimableTemplates(ctx context.Context, tenant string) ([]Template, error) {
	const op = apierr.Op("coupon.ClaimableTemplates")
	ts, err := s.Store.ClaimableTemplates(ctx, tenant)
	if err != nil {
		return nil, apierr.E(op, err)
	}
	now := s.Now()
	out := make([]Template, 0, len(ts))
	for _, t := range ts {
		if t.ClaimableAt(now) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Claim gives the caller a coupon of the template: one write, which takes a
// unit of stock, counts the claim against the caller's limit and records
// coupon.issued, or does nothing. The answer is the coupon issued.
func (s *Service) Claim(ctx context.Context, caller auth.Caller, templateID string) (Coupon, error) {
	const op = apierr.Op("coupon.Claim")
	t, err := s.Templates.Get(ctx, caller.Tenant, templateID)
	if err != nil {
		return Coupon{}, apierr.E(op, err)
	}
	if t == nil {
		return Coupon{}, apierr.E(op, apierr.TemplateNotFound, "no such coupon template")
	}
	// An ended template still exists: it is NOT_CLAIMABLE, never missing.
	switch now := s.Now(); {
	case !t.IssuableAt(now):
		return Coupon{}, apierr.E(op, apierr.NotClaimable, "this coupon has ended: its validity is over")
	case !t.Claimable:
		return Coupon{}, apierr.E(op, apierr.NotClaimable, "this coupon is given by the clinic, not claimed")
	}
	// A claim with an Idempotency-Key is an effect of that key: a retry after
	// a commit whose reply was lost finds it and answers the coupon it made.
	effect := ""
	if scope := idempotency.ScopeOf(ctx); scope != "" {
		effect = "claim#" + scope + "#" + t.ID
	}
	c, err := s.issue(ctx, t, caller.UserID, FromClaim, t.PerUserLimit, effect, nil)
	if err == nil && c == nil {
		err = errors.New("coupon: the claim's effect is recorded without its coupon")
	}
	if err != nil {
		return Coupon{}, apierr.E(op, err)
	}
	return *c, nil
}

// Reward is a coupon that an event earned someone: a hook rule's or a
// built-in reaction's.
type Reward struct {
	Tenant     string
	TemplateID string
	UserID     string
	Source     Source
	PriceFen   *int64 // what a group member paid, recorded on their voucher
	Effect     string // unique per (event, rule, recipient)
	CauseEvent string // id of the event that earned it
	RuleID     string
	DealID     string // a group voucher's deal
	// Hold issues the coupon PENDING until Hold.Until (a referral reward);
	// nil issues it ISSUED.
	Hold *Hold
}

// IssueReward issues r's coupon unless its effect already happened; issued
// is false for a repeat, for a holder who was erased, and for a held reward
// whose visit was refunded before it came (a refund voids what it finds;
// what comes later is not issued at all). TEMPLATE_NOT_FOUND, NOT_CLAIMABLE (the template's
// validity has ended) and OUT_OF_STOCK will not change on a retry.
func (s *Service) IssueReward(ctx context.Context, r Reward) (issued bool, err error) {
	const op = apierr.Op("coupon.IssueReward")
	if r.Effect == "" {
		return false, apierr.E(op, apierr.Internal, "a reward needs an effect key")
	}
	t, err := s.Templates.Get(ctx, r.Tenant, r.TemplateID)
	if err != nil {
		return false, apierr.E(op, err)
	}
	if t == nil {
		return false, apierr.E(op, apierr.TemplateNotFound, "no such coupon template")
	}
	if !t.IssuableAt(s.Now()) {
		return false, apierr.E(op, apierr.NotClaimable, "the template's validity has ended")
	}
	c, err := s.issue(ctx, t, r.UserID, r.Source, 0, r.Effect, &r)
	if err != nil {
		return false, apierr.E(op, err)
	}
	return c != nil, nil
}

// issue writes one coupon of t for user. Stock shards are tried at random
// among those not known to be empty; a shard found empty is remembered and
// another tried, so only near sell-out does an issue cost more than one
// write, and OUT_OF_STOCK comes only once every shard was seen empty. A nil
// coupon and no error: the reward's effect had already happened.
func (s *Service) issue(ctx context.Context, t *Template, user string, src Source, limit int, effect string, r *Reward) (*Coupon, error) {
	for attempt := 0; attempt <= t.Shards+3; attempt++ {
		shard := -1
		if t.Stock > 0 {
			if shard = s.stock.pick(t); shard < 0 {
				return nil, apierr.E(apierr.OutOfStock, "this coupon is out of stock")
			}
		}
		now := s.Now().UTC().Truncate(time.Millisecond)
		c, data := newIssued(t, user, src, now, r)
		if r == nil {
			// A claim: its answer is decided, and stored with the write.
			if err := idempotency.Prepare(ctx, c); err != nil {
				return nil, err
			}
		}
		conflict, err := s.Store.Issue(ctx, Issue{
			Coupon: c, Shard: shard, PerUserLimit: limit, Effect: effect,
			Event: event.New(event.CouponIssued, t.Tenant, now, data),
		})
		switch {
		case err != nil:
			return nil, err
		case conflict == nil:
			return &c, nil
		case conflict.Done && r == nil && conflict.DoneCoupon != "":
			// This claim's own earlier commit (see Claim).
			done, err := s.Store.Coupon(ctx, conflict.DoneCoupon)
			if err != nil || done == nil {
				return nil, cmp.Or(err, errors.New("coupon: the claim's coupon is gone"))
			}
			if err := idempotency.Again(ctx, s.Store, *done); err != nil {
				return nil, err
			}
			return done, nil
		case conflict.Erased && r == nil:
			return nil, mydata.ErrErased
		case conflict.Done, conflict.Withdrawn, conflict.Erased:
			// An erased holder's reward is not issued at all, as a
			// withdrawn one is not.
			return nil, nil
		}
		if conflict.OutOfStock {
			s.stock.markEmpty(t, shard)
		}
		if conflict.LimitReached {
			return nil, apierr.E(apierr.LimitReached, "you have claimed this coupon as often as allowed")
		}
		// A code clash (49 random bits: rare) or an empty shard: try again.
	}
	return nil, apierr.E(apierr.Unavailable, "too many concurrent claims, try again")
}

// newIssued is a new coupon of t for user, under a fresh code, and the
// data of its coupon.issued event; r, when a reward, adds its price, deal,
// cause and hold.
func newIssued(t *Template, user string, src Source, now time.Time, r *Reward) (Coupon, map[string]any) {
	var hold *Hold
	if r != nil {
		hold = r.Hold
	}
	c := t.couponFor(share.NewCode(share.CouponCodeLen), user, src, now, hold)
	data := map[string]any{"couponCode": c.Code, "templateId": t.ID, "userId": user, "source": string(src)}
	c.describe(data)
	if r != nil {
		if r.PriceFen != nil {
			c.PriceFen = *r.PriceFen
		}
		data["causeEventId"], data["ruleId"] = r.CauseEvent, r.RuleID
		if r.DealID != "" {
			c.DealID, data["dealId"] = r.DealID, r.DealID
		}
		if hold != nil {
			data["status"], data["visitId"] = string(Pending), hold.VisitID
		}
	}
	return c, data
}

// StockChangedBy lists the templates whose stock e changed: the template
// of a coupon.issued, and those a referral.reversed gave voided rewards'
// units back to.
func StockChangedBy(e event.Event) []string {
	switch e.Type {
	case event.CouponIssued:
		if id, _ := e.Data["templateId"].(string); id != "" {
			return []string{id}
		}
	case event.ReferralReversed:
		var ids []string
		switch v := e.Data["templateIds"].(type) { // []any from the stream, []string when written
		case []any:
			for _, id := range v {
				if s, ok := id.(string); ok && s != "" {
					ids = append(ids, s)
				}
			}
		case []string:
			ids = v
		}
		return ids
	}
	return nil
}

// RefreshRemaining brings the issued count (and so `remaining`) of the
// limited templates whose stock evs changed up to date, evs having been
// received at since: one refresh per template however many events.
func (s *Service) RefreshRemaining(ctx context.Context, since time.Time, evs ...event.Event) error {
	type tpl struct{ tenant, id string }
	seen := map[tpl]bool{}
	var errs []error
	for _, e := range evs {
		for _, id := range StockChangedBy(e) {
			k := tpl{e.Tenant, id}
			if seen[k] {
				continue
			}
			seen[k] = true
			t, err := s.Templates.Get(ctx, k.tenant, k.id)
			if err == nil && t != nil && t.Stock > 0 {
				err = s.Store.RefreshIssued(ctx, k.tenant, k.id, t.Shards, since)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Mine lists the caller's coupons, newest first, as stored: StatusAt says
// where each stands at a given moment.
func (s *Service) Mine(ctx context.Context, caller auth.Caller) ([]Coupon, error) {
	cs, err := s.Store.CouponsOf(ctx, caller.Tenant, caller.UserID)
	if err != nil {
		return nil, apierr.E(apierr.Op("coupon.Mine"), err)
	}
	return cs, nil
}

// Redeem uses the coupon at the clinic (核销): at most once, only by the
// coupon's clinic, only within its validity at this moment. The answer is
// the coupon as redeemed.
func (s *Service) Redeem(ctx context.Context, caller auth.Caller, raw string) (Coupon, error) {
	const op = apierr.Op("coupon.Redeem")
	notFound := apierr.E(op, apierr.CouponNotFound, "no such coupon")
	code, ok := share.Normalize(raw, share.CouponCodeLen)
	if !ok {
		return Coupon{}, notFound
	}
	c, err := s.Store.Coupon(ctx, code)
	if err != nil {
		return Coupon{}, apierr.E(op, err)
	}
	if c == nil {
		return Coupon{}, notFound
	}
	req := idempotency.ScopeOf(ctx)
	if c.redeemedIn(req) {
		// This request's own earlier commit, whose reply was lost.
		if err := idempotency.Again(ctx, s.Store, *c); err != nil {
			return Coupon{}, apierr.E(op, err)
		}
		return *c, nil
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	if err := c.redeemableAt(caller.Tenant, now); err != nil {
		return Coupon{}, err
	}
	data := map[string]any{
		"couponCode": c.Code, "templateId": c.TemplateID, "userId": c.UserID, "source": string(c.Source), "staffId": caller.UserID,
	}
	if c.DealID != "" {
		data["dealId"] = c.DealID // a group voucher: counted in the deal's stats
	}
	c.describe(data)
	e := event.New(event.CouponRedeemed, c.Tenant, now, data)
	redeemed := *c
	redeemed.Status, redeemed.RedeemedAt, redeemed.RedeemedBy, redeemed.RedeemedReq = Redeemed, now, caller.UserID, req
	if err := idempotency.Prepare(ctx, redeemed); err != nil {
		return Coupon{}, apierr.E(op, err)
	}
	conflict, err := s.Store.Redeem(ctx, code, caller.Tenant, caller.UserID, req, now, e)
	if err != nil {
		return Coupon{}, apierr.E(op, err)
	}
	if conflict != nil {
		// Changed since it was read, e.g. redeemed by a concurrent request.
		if conflict.Current == nil {
			return Coupon{}, notFound
		}
		if cur := conflict.Current; cur.redeemedIn(req) {
			return *cur, nil
		}
		if err := conflict.Current.redeemableAt(caller.Tenant, now); err != nil {
			return Coupon{}, err
		}
		return Coupon{}, apierr.E(op, apierr.Unavailable, "the coupon changed meanwhile, try again")
	}
	return redeemed, nil
}

// describe adds to an event's data what subscribe messages quote of the
// coupon, so sending one reads nothing: its title and validity.
func (c *Coupon) describe(data map[string]any) {
	data["title"] = c.Title
	if !c.ValidTo.IsZero() {
		data["validTo"] = c.ValidTo.UTC().Format(time.RFC3339)
	}
}
