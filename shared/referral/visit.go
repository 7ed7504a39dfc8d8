package referral

import (
	"context"
	"slices"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/idempotency"
	"github.com/laoyou/laoyou/shared/tenant"
)

// VisitKind is what a clinic visit was. The referrer never learns it.
type VisitKind string

const (
	Arrival   VisitKind = "arrival"   // came to the clinic (到院)
	Treatment VisitKind = "treatment" // had a paid treatment
)

// MaxAmountFen bounds a visit's amount (¥1,000,000).
const MaxAmountFen = 100_000_000

// Visit is a clinic visit as the front desk or the clinic's HIS reports it.
// Its id is the clinic's own, so it is unique per tenant only.
type Visit struct {
	Tenant    string
	VisitID   string
	UserID    string
	Kind      VisitKind
	AmountFen *int64
	StaffID   string    // who reported it
	StaffRole auth.Role // the reporter's role, as their token shows it
	At        time.Time
}

// Visitor is what a visit reads about the user who came: their binding (nil
// if none) and their recorded role ("" if none is recorded).
type Visitor struct {
	Binding *Binding
	Role    auth.Role
}

// VisitResult is the answer to a reported visit: the visitor's referral as
// it stands after the visit, or nil when they have none that is live.
type VisitResult struct {
	VisitID  string
	Referral *ReferralState
}

// ReferralState is a referral as the clinic's staff see it on a visit.
type ReferralState struct {
	Stage Stage
}

// RecordedVisit is a visit as stored with what it did to the referral. The
// first answer is kept on it, so a repeat of the visit answers the same.
type RecordedVisit struct {
	Visit
	Result VisitResult
	// Qualified: this visit qualified the referral of ReferrerID.
	Qualified  bool
	ReferrerID string
	Rewardable bool
	// CapMonth is the month whose cap this visit's referral counted
	// against ("" when none was counted).
	CapMonth string
	// Held lists the codes of rewards it earned that are still on hold.
	Held []string
	// HeldStock says, by code, which stock unit a held reward took (held
	// rewards of unlimited templates are not in it): a refund voids the
	// reward and gives the unit back.
	HeldStock map[string]StockUnit
	// Released: at least one of its rewards was released, so its referral
	// reached REWARDED.
	Released bool
	// Rev changes with every change to Held and Released: a refund holds
	// to the revision it read.
	Rev      int64
	Refunded bool
	Reversed int // rewards the refund voided
}

// returnedTemplates are the templates whose stock the voided held rewards
// give back, sorted.
func (v *RecordedVisit) returnedTemplates() []string {
	var ids []string
	for _, code := range v.Held {
		if u, ok := v.HeldStock[code]; ok && !slices.Contains(ids, u.TemplateID) {
			ids = append(ids, u.TemplateID)
		}
	}
	slices.Sort(ids)
	return ids
}

// StockUnit is a unit of a coupon template's stock: the shard it came from.
type StockUnit struct {
	TemplateID string
	Shard      int
}

// Qualification is what a qualifying visit writes besides the visit: the
// binding and friend entry BOUND→QUALIFIED (on the condition that they are
// still BOUND to Binding.ReferrerID), the referrer's monthly count when
// Cap > 0 (on the condition that it stays within Cap), for each side not
// known to be staff the condition that its role record says neither staff
// nor admin, and Event.
type Qualification struct {
	Binding    Binding
	Rewardable bool
	Cap        int
	CapMonth   string
	// StaffReferrer, StaffReferee: that side is staff or admin, by the
	// reporter's token or its role record, and earns no referral reward.
	StaffReferrer bool
	StaffReferee  bool
	Event         event.Event // referral.qualified
}

// excludeStaff records that the referrer and/or the referee is clinic staff
// (staff or admin) as the referral qualifies: that side earns no referral
// reward (the event says so per side, "referrerEligible" or
// "refereeEligible" false), the referral still qualifies. A staff referrer
// earns nothing, so the referral does not count against their monthly
// cap; when neither side may earn, it is not rewardable at all.
func (q *Qualification) excludeStaff(rec *RecordedVisit, referrer, referee bool) {
	if referrer && !q.StaffReferrer {
		q.StaffReferrer = true
		q.Event.Data["referrerEligible"] = false
		q.Cap, q.CapMonth, rec.CapMonth = 0, "", ""
	}
	if referee && !q.StaffReferee {
		q.StaffReferee = true
		q.Event.Data["refereeEligible"] = false
	}
	if q.StaffReferrer && q.StaffReferee {
		q.Rewardable, rec.Rewardable = false, false
		q.Event.Data["rewardable"] = false
	}
}

// VisitConflict says why a visit's write was refused; nothing was written.
type VisitConflict struct {
	// Existing is the visit as first recorded: this one is a repeat.
	Existing *RecordedVisit
	// BindingChanged: the binding is no longer BOUND to the referrer read
	// (another visit qualified it meanwhile); Stage is its stage now.
	BindingChanged bool
	Stage          Stage
	// CapReached: the referrer's monthly cap is used up.
	CapReached bool
	// StaffReferrer, StaffReferee: that side's role record says staff or
	// admin (granted after the visit read it, or never read: the referrer's).
	StaffReferrer bool
	StaffReferee  bool
}

// Refund is what a refund writes: the visit marked refunded (on the
// condition that it is still at Visit.Rev), every reward in Visit.Held
// voided (each on the condition that it is still PENDING) and, when
// Reverse, the binding and friend entry QUALIFIED→REVERSED, the month's
// cap count given back and Event.
type Refund struct {
	Visit   RecordedVisit
	At      time.Time
	Reverse bool
	Event   *event.Event // referral.reversed, with Reverse
}

// VisitStore keeps visits and what they did. Every write is one call.
type VisitStore interface {
	idempotency.Recorder
	// VisitorOf reads the user's binding and role record in one strongly
	// consistent call.
	VisitorOf(ctx context.Context, tenant, userID string) (Visitor, error)
	// VisitorWithSettings is VisitorOf, with the tenant's settings (nil if
	// none are saved) read in the same call.
	VisitorWithSettings(ctx context.Context, tenant, userID string) (Visitor, *tenant.Settings, error)
	// RecordVisit writes v (unless its id is recorded: then Existing), marks
	// the user a patient, records a staff or admin reporter's role where
	// none is recorded and, with q, qualifies the referral: one
	// transaction, all or nothing.
	RecordVisit(ctx context.Context, v RecordedVisit, q *Qualification) (*VisitConflict, error)
	// VisitByID reads a visit of tenant, or nil.
	VisitByID(ctx context.Context, tenant, visitID string) (*RecordedVisit, error)
	// Refund writes r in one transaction; changed reports that the visit or
	// a reward changed since it was read, and nothing was written.
	Refund(ctx context.Context, r Refund) (changed bool, err error)
}

// The monthly cap counts by the calendar month in China Standard Time,
// where Laoyou's clinics are.
var capZone = time.FixedZone("CST", 8*60*60)

// CapMonth is the calendar month a qualification at t counts in, e.g.
// "2026-11".
func CapMonth(t time.Time) string { return t.In(capZone).Format("2006-01") }

// RecordVisit records a clinic visit: the user becomes an existing patient
// (no longer bindable as a newcomer), and the first visit of a referee
// bound within the binding window qualifies their referral. One read (the
// binding and the visitor's role record) and one write; a repeat of the
// visit id, even concurrent and whatever its body, answers what the first
// answered.
//
// Staff never earn: a visit the reporter records for themselves is
// refused (SELF_VISIT), and a side of the referral who is staff or admin
// as it qualifies (by the reporter's token, who may be the referrer, or by
// their role record) gets no referral reward. The referrer's record can
// only be read once the binding names them, so it is a condition of the
// write instead. A referrer whose monthly cap is used up, or a side whose
// record says staff, costs a second write: the qualification is written
// again without that reward.
func (s *Service) RecordVisit(ctx context.Context, caller auth.Caller, v Visit) (VisitResult, error) {
	const op = apierr.Op("referral.RecordVisit")
	if v.UserID == caller.UserID {
		return VisitResult{}, apierr.E(op, apierr.SelfVisit, "staff cannot record their own visit: another member of staff records it")
	}
	v.Tenant, v.StaffID, v.StaffRole = caller.Tenant, caller.UserID, caller.Role
	v.At = s.Now().UTC().Truncate(time.Millisecond)
	var who Visitor
	settings, err := s.Settings.GetWith(v.Tenant,
		func() (err error) { who, err = s.Store.VisitorOf(ctx, v.Tenant, v.UserID); return err },
		func() (st *tenant.Settings, err error) {
			who, st, err = s.Store.VisitorWithSettings(ctx, v.Tenant, v.UserID)
			return st, err
		})
	if err != nil {
		return VisitResult{}, apierr.E(op, err)
	}
	rec, q := planVisit(v, who.Binding, settings)
	if q != nil {
		q.excludeStaff(&rec, caller.IsStaff() && q.Binding.ReferrerID == caller.UserID, who.Role.IsStaff())
	}
	for attempt := 0; ; attempt++ {
		// Each attempt stores its own answer with its write, so the key's
		// record is in whichever write commits.
		if err := idempotency.Prepare(ctx, rec.Result); err != nil {
			return VisitResult{}, apierr.E(op, err)
		}
		conflict, err := s.Store.RecordVisit(ctx, rec, q)
		switch {
		case err != nil:
			return VisitResult{}, apierr.E(op, err)
		case conflict == nil:
			return rec.Result, nil
		case conflict.Existing != nil:
			return conflict.Existing.Result, nil
		case attempt >= 4:
			return VisitResult{}, apierr.E(op, apierr.Unavailable, "the referral changed meanwhile, try again")
		case conflict.BindingChanged:
			// Another visit qualified it first: this one is a plain visit.
			rec, q = unqualified(rec), nil
			if conflict.Stage != "" {
				rec.Result.Referral = &ReferralState{Stage: conflict.Stage}
			}
		case q == nil || !conflict.CapReached && !conflict.StaffReferrer && !conflict.StaffReferee:
			return VisitResult{}, apierr.E(op, apierr.Internal, "visit refused for no known reason")
		default:
			q.excludeStaff(&rec, conflict.StaffReferrer, conflict.StaffReferee)
			if conflict.CapReached {
				rec.Rewardable, rec.CapMonth = false, ""
				q.Rewardable, q.Cap = false, 0
				q.Event.Data["rewardable"] = false
			}
		}
	}
}

// planVisit decides what a visit does, given the visitor's binding as read.
func planVisit(v Visit, b *Binding, settings tenant.Settings) (RecordedVisit, *Qualification) {
	rec := RecordedVisit{Visit: v, Result: VisitResult{VisitID: v.VisitID}}
	switch {
	case b == nil:
		return rec, nil
	case b.Stage != Bound:
		// Qualified by an earlier visit (or reversed): this one changes nothing.
		rec.Result.Referral = &ReferralState{Stage: b.Stage}
		return rec, nil
	case !b.LiveAt(v.At, settings.BindingWindow()):
		// The window passed unqualified: no live referral.
		return rec, nil
	}
	rec.Result.Referral = &ReferralState{Stage: Qualified}
	rec.Qualified, rec.ReferrerID, rec.Rewardable = true, b.ReferrerID, true
	q := &Qualification{Binding: *b, Rewardable: true}
	if settings.MonthlyCap > 0 {
		q.Cap, q.CapMonth = settings.MonthlyCap, CapMonth(v.At)
		rec.CapMonth = q.CapMonth
	}
	releaseAt := v.At.Add(settings.Hold()).Truncate(time.Second)
	q.Event = event.New(event.ReferralQualified, v.Tenant, v.At, map[string]any{
		"referrerId": b.ReferrerID,
		"refereeId":  b.RefereeID,
		"visitId":    v.VisitID,
		"rewardable": true,
		// Rewards are held until then; carried on the event so every
		// delivery holds them to the same moment.
		"releaseAt": releaseAt.Format(time.RFC3339),
	})
	return rec, q
}

func unqualified(rec RecordedVisit) RecordedVisit {
	rec.Qualified, rec.ReferrerID, rec.Rewardable, rec.CapMonth = false, "", false, ""
	rec.Result.Referral = nil
	return rec
}

// RefundResult is the answer to a refund.
type RefundResult struct {
	VisitID  string
	Reversed int // rewards voided
}

// Refund records that a visit's treatment was refunded: rewards it earned
// that are still on hold become VOID, and a referral it qualified whose
// rewards were not yet released becomes REVERSED. A reward already released
// is not clawed back, and its referral stays REWARDED. A repeat answers the
// first refund. One read and one write; when a reward was issued or
// released between them, the refund is decided again on a fresh read.
func (s *Service) Refund(ctx context.Context, caller auth.Caller, visitID string) (RefundResult, error) {
	const op = apierr.Op("referral.Refund")
	for attempt := 0; attempt < 2; attempt++ {
		v, err := s.Store.VisitByID(ctx, caller.Tenant, visitID)
		if err != nil {
			return RefundResult{}, apierr.E(op, err)
		}
		if v == nil {
			return RefundResult{}, apierr.E(op, apierr.VisitNotFound, "no such visit")
		}
		if v.Refunded {
			// Refunded already, perhaps by this request's own write whose
			// reply was lost: a keyed retry replays what it answered.
			done := RefundResult{VisitID: visitID, Reversed: v.Reversed}
			if err := idempotency.Again(ctx, s.Store, done); err != nil {
				return RefundResult{}, apierr.E(op, err)
			}
			return done, nil
		}
		r := Refund{Visit: *v, At: s.Now().UTC().Truncate(time.Millisecond), Reverse: v.Qualified && !v.Released}
		if r.Reverse {
			data := map[string]any{
				"referrerId": v.ReferrerID, "refereeId": v.UserID, "visitId": v.VisitID, "voided": len(v.Held),
			}
			if returned := v.returnedTemplates(); len(returned) > 0 {
				data["templateIds"] = returned // their `remaining` is rolled up again
			}
			e := event.New(event.ReferralReversed, v.Tenant, r.At, data)
			r.Event = &e
		}
		refunded := RefundResult{VisitID: visitID, Reversed: len(v.Held)}
		if err := idempotency.Prepare(ctx, refunded); err != nil {
			return RefundResult{}, apierr.E(op, err)
		}
		changed, err := s.Store.Refund(ctx, r)
		if err != nil {
			return RefundResult{}, apierr.E(op, err)
		}
		if !changed {
			return refunded, nil
		}
	}
	return RefundResult{}, apierr.E(op, apierr.Unavailable, "the visit's rewards changed meanwhile, try again")
}
