// Package referral is old-brings-new (老带新): a patient's referral code and
// its share link, a newcomer binding to the patient who brought them, the
// clinic visit that qualifies the referral, the rewards held until the
// refund window passes (and voided by a refund inside it), and the
// referrer's view of their friends, which never shows a treatment or an
// amount. It holds the rules; how they are stored is the Store's business.
package referral

import (
	"context"
	"errors"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/idempotency"
	"github.com/laoyou/laoyou/shared/privacy"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/tenant"
)

// Stage is how far a referral has come.
type Stage string

const (
	Bound     Stage = "BOUND"     // the friend bound to the referrer
	Qualified Stage = "QUALIFIED" // the friend visited the clinic
	Rewarded  Stage = "REWARDED"  // the rewards were released
	Reversed  Stage = "REVERSED"  // the qualifying treatment was refunded
)

// Code is a patient's referral code. Codes are unique across tenants.
type Code struct {
	Code        string
	Tenant      string
	UserID      string
	DisplayName string // already masked
	PhoneHash   string // HMAC of the referrer's phone, for self-referral checks
	Role        auth.Role
	CreatedAt   time.Time
	Req         string // the idempotency scope of the request that made it; "" without a key
}

// Binding ties a referee to their referrer. A referee has at most one
// live binding: it qualifies by the referee's first visit within the
// tenant's binding window, and one that expired unqualified may be replaced.
type Binding struct {
	Tenant       string
	RefereeID    string
	ReferrerID   string
	Code         string
	ReferrerName string // masked
	RefereeName  string // masked
	Stage        Stage
	BoundAt      time.Time
	VisitID      string // the visit that qualified it
	// ReplaceBoundBefore lets Bind replace a binding still BOUND that was
	// made before this instant (its window has passed). Zero replaces none.
	ReplaceBoundBefore time.Time
}

// LiveAt reports whether the binding can still qualify at now.
func (b Binding) LiveAt(now time.Time, window time.Duration) bool {
	return b.Stage == Bound && now.Before(b.BoundAt.Add(window))
}

// Friend is a referee as their referrer sees them: a masked name and a
// stage, never a treatment, amount or visit detail.
type Friend struct {
	DisplayName string
	Stage       Stage
	BoundAt     time.Time
}

// BindConflict says which of a binding's conditions failed.
type BindConflict struct {
	Existing        *Binding // the referee was already bound
	ExistingPatient bool     // the referee has a recorded visit
	Loop            bool     // the referrer is bound to the referee
}

// CodeConflict says why a code was not saved.
type CodeConflict struct {
	Existing *Code // the user already has this code (a concurrent call made it first)
	Taken    bool  // the random code belongs to another user
}

// Store keeps referral state. Every write is a single conditional call.
type Store interface {
	VisitStore
	idempotency.Recorder
	// CodeOf returns the user's code, or nil, and the hash of the phone
	// bound to their profile ("" if none), in one read.
	CodeOf(ctx context.Context, tenant, userID string) (*Code, string, error)
	// SaveCode stores c unless the user already has a code or the code is
	// taken; then it reports the conflict and writes nothing.
	SaveCode(ctx context.Context, c Code) (*CodeConflict, error)
	// FindCode returns the code, or nil.
	FindCode(ctx context.Context, code string) (*Code, error)
	// FindCodeWithSettings is FindCode with the settings of tenant (nil
	// when it has none saved) in the same call.
	FindCodeWithSettings(ctx context.Context, code, tenant string) (*Code, *tenant.Settings, error)
	// FindCodeFor is FindCode, with the hash of the phone bound to the
	// user's profile ("" if none) and, withSettings, the tenant's settings
	// (nil if none are saved), read in the same call.
	FindCodeFor(ctx context.Context, code, tenant, userID string, withSettings bool) (*Code, string, *tenant.Settings, error)
	// RecordOpen records that a share link of code was opened, with one
	// write and no read. Only opens of a code that exists are counted (by
	// the stream, which knows the code's tenant); others count nowhere. A
	// keyed open is its key's record: a repeat of it writes nothing and
	// returns an *idempotency.Replay.
	RecordOpen(ctx context.Context, code string, at time.Time) error
	// Bind stores b with its event, in one transaction, only if the referee
	// is unbound and not a patient and the referrer is not bound to the
	// referee. Otherwise it reports the conflict and writes nothing.
	Bind(ctx context.Context, b Binding, e event.Event) (*BindConflict, error)
	// Referrals returns the user's code (or nil) and their friends.
	Referrals(ctx context.Context, tenant, userID string) (*Code, []Friend, error)
	// FriendStages returns the stage of each of the referrer's friends,
	// read consistently.
	FriendStages(ctx context.Context, tenant, referrerID string) ([]Stage, error)
	// DropBoundFriend deletes the referrer's friend entry of the referee
	// only while it is BOUND; otherwise, or when it is gone, it does
	// nothing.
	DropBoundFriend(ctx context.Context, tenant, referrerID, refereeID string) error
	// ClickEvents turns opens into referral.clicked events of their codes'
	// tenants, reading the codes in one batch; opens of unknown codes give
	// none.
	ClickEvents(ctx context.Context, opens []Opened) ([]event.Event, error)
}

// Service applies the referral rules.
type Service struct {
	Store    Store
	Settings *tenant.Cache
	Links    share.Links
	Pepper   []byte
	Now      func() time.Time
}

// Share is a code with its share links.
type Share struct {
	Code string
	share.Link
}

// MyCode returns the caller's code, creating it on first call.
func (s *Service) MyCode(ctx context.Context, caller auth.Caller) (Share, error) {
	const op = apierr.Op("referral.MyCode")
	if caller.IsStaff() {
		return Share{}, apierr.E(op, apierr.ReferrerNotEligible, "clinic staff accounts do not refer patients")
	}
	c, boundPhone, err := s.Store.CodeOf(ctx, caller.Tenant, caller.UserID)
	if err != nil {
		return Share{}, apierr.E(op, err)
	}
	req := idempotency.ScopeOf(ctx)
	if c != nil && req != "" && c.Req == req {
		// This request's own earlier commit, whose reply was lost.
		done := s.shareOf(caller.Tenant, c.Code)
		if err := idempotency.Again(ctx, s.Store, done); err != nil {
			return Share{}, apierr.E(op, err)
		}
		return done, nil
	}
	phoneHash := privacy.PhoneHash(s.Pepper, caller.PhoneNumber)
	if phoneHash == "" {
		phoneHash = boundPhone // the number the user bound through WeChat
	}
	for attempt := 0; c == nil; attempt++ {
		fresh := Code{
			Code:        share.NewCode(share.ReferralCodeLen),
			Tenant:      caller.Tenant,
			UserID:      caller.UserID,
			DisplayName: privacy.MaskName(caller.Name),
			PhoneHash:   phoneHash,
			Role:        caller.Role,
			CreatedAt:   s.Now().UTC(),
			Req:         req,
		}
		// Each attempt (a new code) stores its own answer with its write.
		if err := idempotency.Prepare(ctx, s.shareOf(caller.Tenant, fresh.Code)); err != nil {
			return Share{}, apierr.E(op, err)
		}
		conflict, err := s.Store.SaveCode(ctx, fresh)
		switch {
		case err != nil:
			return Share{}, apierr.E(op, err)
		case conflict == nil:
			c = &fresh
		case conflict.Existing != nil:
			c = conflict.Existing // a concurrent call made it first
		case attempt < 3:
			continue // 44 random bits: a clash is rare, four in a row is a bug
		default:
			return Share{}, apierr.E(op, errors.New("referral: code taken"))
		}
	}
	return s.shareOf(caller.Tenant, c.Code), nil
}

// HasCode reports whether the user has made their referral code.
func (s *Service) HasCode(ctx context.Context, tenant, userID string) (bool, error) {
	c, _, err := s.Store.CodeOf(ctx, tenant, userID)
	return c != nil, err
}

// shareOf is code with its share links.
func (s *Service) shareOf(tenant, code string) Share {
	return Share{Code: code, Link: s.Links.Referral(tenant, code)}
}

// Landing is what a shared code opens: whose code, at which clinic, and
// what a newcomer is offered.
type Landing struct {
	Code          string
	Tenant        string
	Clinic        *tenant.Clinic
	Referrer      Person
	NewcomerOffer *tenant.Offer
}

// Person is another patient as shown: a masked name only.
type Person struct {
	DisplayName string
}

// Resolve shows a shared code to anyone. It only reads: the code, and the
// tenant's settings from the cache. When the cache is cold they are read
// too: after the code, which names its tenant, unless the page asking names
// its clinic (asking, "" for none), whose settings then come in the same
// call; another clinic's code is then not found. Opens are counted by Open.
func (s *Service) Resolve(ctx context.Context, raw, asking string) (Landing, error) {
	const op = apierr.Op("referral.Resolve")
	var c *Code
	var settings tenant.Settings
	var err error
	if asking == "" {
		if c, err = s.find(ctx, op, raw); err != nil {
			return Landing{}, err
		}
		settings, err = s.Settings.Get(ctx, c.Tenant)
	} else {
		c, settings, err = s.findIn(ctx, op, raw, asking)
	}
	if err != nil {
		return Landing{}, apierr.E(op, err)
	}
	return Landing{
		Code:          c.Code,
		Tenant:        c.Tenant,
		Clinic:        settings.Clinic,
		Referrer:      Person{DisplayName: c.DisplayName},
		NewcomerOffer: settings.NewcomerOffer,
	}, nil
}

// Open counts that a share link of code was opened (the funnel's clicks).
// It never says whether the code exists: a malformed code is not written
// at all, an unknown one is written and counted nowhere.
func (s *Service) Open(ctx context.Context, raw string) error {
	code, ok := share.Normalize(raw, share.ReferralCodeLen)
	if !ok {
		return nil
	}
	// The answer, no content, is stored with the open (see Store.RecordOpen).
	if err := idempotency.Prepare(ctx, struct{}{}); err != nil {
		return apierr.E(apierr.Op("referral.Open"), err)
	}
	if err := s.Store.RecordOpen(ctx, code, s.Now().UTC()); err != nil {
		return apierr.E(apierr.Op("referral.Open"), err)
	}
	return nil
}

// BindResult is the answer to a successful bind. Referee is the caller as
// the clinic's front desk and the referrer see them (masked), for the page
// the newcomer shows at the clinic.
type BindResult struct {
	Referrer Person
	Referee  Person
	BoundAt  time.Time
}

// Bind binds the caller, a newcomer, to the owner of code. The first binding
// wins; binding again to the same referrer answers the same.
func (s *Service) Bind(ctx context.Context, caller auth.Caller, raw string) (BindResult, error) {
	const op = apierr.Op("referral.Bind")
	code, ok := share.Normalize(raw, share.ReferralCodeLen)
	if !ok {
		return BindResult{}, apierr.E(op, apierr.CodeNotFound, "no such referral code")
	}
	c, boundPhone, settings, err := s.codeFor(ctx, caller, code)
	if err != nil {
		return BindResult{}, apierr.E(op, err)
	}
	if c == nil || c.Tenant != caller.Tenant {
		// Another clinic's code does not exist for this caller.
		return BindResult{}, apierr.E(op, apierr.CodeNotFound, "no such referral code")
	}
	if err := s.eligible(caller, c, boundPhone); err != nil {
		return BindResult{}, apierr.E(op, err)
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	b := Binding{
		Tenant:       caller.Tenant,
		RefereeID:    caller.UserID,
		ReferrerID:   c.UserID,
		Code:         c.Code,
		ReferrerName: c.DisplayName,
		RefereeName:  privacy.MaskName(caller.Name),
		Stage:        Bound,
		BoundAt:      now,
		// A binding that outlived its window unqualified gives way.
		ReplaceBoundBefore: now.Add(-settings.BindingWindow()),
	}
	e := event.New(event.ReferralBound, b.Tenant, b.BoundAt, map[string]any{
		"referrerId": b.ReferrerID, "refereeId": b.RefereeID, "code": b.Code, "channel": "code",
	})
	// The answer is decided, and stored with the write: a retry after a
	// lost reply is cancelled on its key's record and replays it.
	if err := idempotency.Prepare(ctx, b.result()); err != nil {
		return BindResult{}, apierr.E(op, err)
	}
	conflict, err := s.Store.Bind(ctx, b, e)
	if err != nil {
		return BindResult{}, apierr.E(op, err)
	}
	if conflict != nil {
		existing, err := resolveConflict(conflict, b)
		if err != nil {
			return BindResult{}, apierr.E(op, err)
		}
		b = *existing
	}
	return b.result(), nil
}

// codeFor reads code for the caller in one read, with the tenant's
// settings when they are not cached, and the caller's number bound
// through WeChat, hashed.
func (s *Service) codeFor(ctx context.Context, caller auth.Caller, code string) (c *Code, boundPhone string, settings tenant.Settings, err error) {
	settings, err = s.Settings.GetWith(caller.Tenant,
		func() (err error) {
			c, boundPhone, _, err = s.Store.FindCodeFor(ctx, code, caller.Tenant, caller.UserID, false)
			return err
		},
		func() (st *tenant.Settings, err error) {
			c, boundPhone, st, err = s.Store.FindCodeFor(ctx, code, caller.Tenant, caller.UserID, true)
			return st, err
		})
	return c, boundPhone, settings, err
}

// result is the answer to a bind that made, or found, b.
func (b Binding) result() BindResult {
	return BindResult{Referrer: Person{DisplayName: b.ReferrerName}, Referee: Person{DisplayName: b.RefereeName}, BoundAt: b.BoundAt}
}

// eligible applies the rules that need no stored state beyond the code and
// the caller's bound phone. A phone counts from the token's phone_number
// claim or from the number bound through WeChat, on either side.
func (s *Service) eligible(caller auth.Caller, c *Code, boundPhone string) error {
	claimed := privacy.PhoneHash(s.Pepper, caller.PhoneNumber)
	samePhone := c.PhoneHash != "" && (c.PhoneHash == claimed || c.PhoneHash == boundPhone)
	switch {
	case caller.IsStaff():
		return apierr.E(apierr.NotANewPatient, "clinic staff accounts cannot be referred")
	case c.UserID == caller.UserID:
		return apierr.E(apierr.SelfReferral, "you cannot use your own referral code")
	case samePhone:
		return apierr.E(apierr.SelfReferral, "this code belongs to an account with your phone number")
	case c.Role == auth.Staff || c.Role == auth.Admin:
		return apierr.E(apierr.ReferrerNotEligible, "clinic staff accounts do not refer patients")
	}
	return nil
}

// resolveConflict decides what a failed binding means. Rebinding to the same
// referrer is success, so a retry without an Idempotency-Key is harmless.
func resolveConflict(c *BindConflict, want Binding) (*Binding, error) {
	switch {
	case c.Existing != nil && c.Existing.ReferrerID == want.ReferrerID:
		return c.Existing, nil
	case c.Existing != nil:
		return nil, apierr.E(apierr.AlreadyBound, "you are already bound to another referrer")
	case c.ExistingPatient:
		return nil, apierr.E(apierr.NotANewPatient, "only new patients can be referred")
	case c.Loop:
		return nil, apierr.E(apierr.ReferrerNotEligible, "this referrer was referred by you")
	}
	return nil, apierr.E(apierr.Internal, "binding refused for no known reason")
}

// Mine is the referrer's own view.
type Mine struct {
	Code      *string
	Referrals []Friend
	Counts    Counts
}

// Counts is the referrer's funnel. A friend counts in every stage they
// reached: a rewarded friend was also bound and qualified.
type Counts struct {
	Bound     int
	Qualified int
	Rewarded  int
}

// Me returns the caller's code, friends and counts.
func (s *Service) Me(ctx context.Context, caller auth.Caller) (Mine, error) {
	const op = apierr.Op("referral.Me")
	c, friends, err := s.Store.Referrals(ctx, caller.Tenant, caller.UserID)
	if err != nil {
		return Mine{}, apierr.E(op, err)
	}
	m := Mine{Referrals: friends}
	if m.Referrals == nil {
		m.Referrals = []Friend{}
	}
	if c != nil {
		m.Code = &c.Code
	}
	m.Counts = CountStages(m.Referrals)
	return m, nil
}

// CountStages tallies friends by the furthest stage they reached.
func CountStages(friends []Friend) Counts {
	var n Counts
	for _, f := range friends {
		n.Bound++
		switch f.Stage {
		case Qualified:
			n.Qualified++
		case Rewarded:
			n.Qualified++
			n.Rewarded++
		}
	}
	return n
}

// findIn is find for a page of tenant t, with t's settings read in the
// same call when they are not cached: another tenant's code is not found.
func (s *Service) findIn(ctx context.Context, op apierr.Op, raw, t string) (*Code, tenant.Settings, error) {
	code, ok := share.Normalize(raw, share.ReferralCodeLen)
	if !ok {
		return nil, tenant.Settings{}, apierr.E(op, apierr.CodeNotFound, "no such referral code")
	}
	var c *Code
	settings, err := s.Settings.GetWith(t,
		func() (err error) { c, err = s.Store.FindCode(ctx, code); return err },
		func() (st *tenant.Settings, err error) {
			c, st, err = s.Store.FindCodeWithSettings(ctx, code, t)
			return st, err
		})
	if err != nil {
		return nil, tenant.Settings{}, apierr.E(op, err)
	}
	if c == nil || c.Tenant != t {
		return nil, tenant.Settings{}, apierr.E(op, apierr.CodeNotFound, "no such referral code")
	}
	return c, settings, nil
}

func (s *Service) find(ctx context.Context, op apierr.Op, raw string) (*Code, error) {
	code, ok := share.Normalize(raw, share.ReferralCodeLen)
	if !ok {
		// The same 404 as an unknown code: a malformed one tells nothing.
		return nil, apierr.E(op, apierr.CodeNotFound, "no such referral code")
	}
	c, err := s.Store.FindCode(ctx, code)
	if err != nil {
		return nil, apierr.E(op, err)
	}
	if c == nil {
		return nil, apierr.E(op, apierr.CodeNotFound, "no such referral code")
	}
	return c, nil
}
