package hook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/cache"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/event"
)

// GroupVoucherRule is the built-in reaction to group.succeeded: every member
// gets a voucher of the deal's template at the price they paid.
const GroupVoucherRule = BuiltinPrefix + "group-voucher"

// Effect is the key of one effect: what a rule did about an event for a
// recipient. Stored conditionally, it makes the effect happen once.
func Effect(eventID, ruleID, recipient string) string {
	return eventID + "#" + ruleID + "#" + recipient
}

// DeadLetter is an effect that failed for good: a webhook that kept
// failing, a coupon that could not be issued. It never holds the secret.
type DeadLetter struct {
	Tenant     string
	EventID    string
	EventType  event.Type
	RuleID     string
	Action     string // "webhook", "issueCoupon" or "subscribeMessage"
	URL        string
	TemplateID string
	Recipient  string // a user id
	Attempts   int
	Status     int    // the webhook's last HTTP status
	Error      string // a webhook's: one of the Reason values; a coupon's: its API code and message
	Payload    []byte // the event as the webhook was sent it (Payload)
	At         time.Time
}

// Store keeps rules, effects and dead letters.
type Store interface {
	// Rules lists a tenant's rules.
	Rules(ctx context.Context, tenant string) ([]Rule, error)
	// EffectDone reports whether the effect happened or was dead-lettered.
	EffectDone(ctx context.Context, effect string) (bool, error)
	// MarkDone records that the effect happened; a repeat is no error.
	MarkDone(ctx context.Context, tenant, effect string) error
	// DeadLetter keeps dl and records the effect as done, in one write,
	// once per effect; a repeat is no error.
	DeadLetter(ctx context.Context, dl DeadLetter, effect string) error
}

// Issuer issues reward coupons, once per effect.
type Issuer interface {
	IssueReward(ctx context.Context, r coupon.Reward) (issued bool, err error)
}

// Dispatcher applies Laoyou's built-in reactions and a tenant's rules to
// one event.
type Dispatcher struct {
	Store    Store
	Rules    *RuleCache
	Coupons  Issuer
	Webhooks *Deliverer
	// Milestones gives the referral milestone bonuses; nil gives none.
	Milestones MilestoneSource
	// Messages sends subscribe messages; nil dead-letters their rules.
	Messages *Messages
	Now      func() time.Time
	Log      *slog.Logger
}

// Dispatch applies every reaction and rule to e. Effects that failed for
// good are dead-lettered; an error means some failed in a way a retry may
// mend, and dispatching e again is safe: what happened does not happen
// twice.
func (d *Dispatcher) Dispatch(ctx context.Context, e event.Event) error {
	var errs []error
	switch e.Type {
	case event.GroupSucceeded:
		errs = append(errs, d.groupVouchers(ctx, e))
	case event.ReferralQualified:
		errs = append(errs, d.milestones(ctx, e))
	}
	rules, err := d.Rules.Get(ctx, e.Tenant)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range rules {
		if r.Event != e.Type {
			continue
		}
		switch {
		case r.IssueCoupon != nil:
			errs = append(errs, d.issueCoupons(ctx, e, r))
		case r.Webhook != nil:
			errs = append(errs, d.deliver(ctx, e, r))
		case r.SubscribeMessage != nil:
			errs = append(errs, d.sendMessages(ctx, e, r))
		}
	}
	return errors.Join(errs...)
}

func (d *Dispatcher) issueCoupons(ctx context.Context, e event.Event, r Rule) error {
	ic := r.IssueCoupon
	src, hold := coupon.FromHook, (*coupon.Hold)(nil)
	if e.Type == event.ReferralQualified {
		// A referral's rewards are held until the refund window passes; a
		// referral over its referrer's monthly cap earns none, and a side
		// that was clinic staff as it qualified earns none.
		var rewardable bool
		if hold, rewardable = referralHold(e); !rewardable || !eligible(e, ic.To) {
			return nil
		}
		src = coupon.FromReferral
	}
	users, err := Recipients(e, ic.To)
	if err != nil {
		return d.deadLetter(ctx, e, DeadLetter{RuleID: r.ID, Action: "issueCoupon", TemplateID: ic.TemplateID, Error: apierr.Message(err)},
			Effect(e.ID, r.ID, "-"))
	}
	var errs []error
	for _, u := range users {
		errs = append(errs, d.reward(ctx, e, coupon.Reward{
			Tenant: e.Tenant, TemplateID: ic.TemplateID, UserID: u, Source: src,
			Effect: Effect(e.ID, r.ID, u), CauseEvent: e.ID, RuleID: r.ID, Hold: hold,
		}))
	}
	return errors.Join(errs...)
}

// groupVouchers issues each member of a succeeded room a voucher of the
// deal's template, where the deal names one, at the member's price.
func (d *Dispatcher) groupVouchers(ctx context.Context, e event.Event) error {
	tpl, _ := e.Data["voucherTemplateId"].(string)
	if tpl == "" {
		return nil
	}
	members, err := Recipients(e, Members)
	if err != nil {
		return d.deadLetter(ctx, e, DeadLetter{RuleID: GroupVoucherRule, Action: "issueCoupon", TemplateID: tpl, Error: apierr.Message(err)},
			Effect(e.ID, GroupVoucherRule, "-"))
	}
	prices := map[string]*int64{}
	for _, m := range listOf(e.Data["members"]) {
		if id, ok := m["userId"].(string); ok {
			prices[id] = fen(m["priceFen"])
		}
	}
	dealID, _ := e.Data["dealId"].(string)
	var errs []error
	for _, u := range members {
		errs = append(errs, d.reward(ctx, e, coupon.Reward{
			Tenant: e.Tenant, TemplateID: tpl, UserID: u, Source: coupon.FromGroup, PriceFen: prices[u],
			Effect: Effect(e.ID, GroupVoucherRule, u), CauseEvent: e.ID, RuleID: GroupVoucherRule, DealID: dealID,
		}))
	}
	return errors.Join(errs...)
}

// reward issues one coupon; what cannot succeed on a retry is dead-lettered.
func (d *Dispatcher) reward(ctx context.Context, e event.Event, r coupon.Reward) error {
	_, err := d.Coupons.IssueReward(ctx, r)
	if err == nil || !permanent(err) {
		return err
	}
	d.log().WarnContext(ctx, "hook coupon not issued", "eventId", e.ID, "ruleId", r.RuleID, "code", string(apierr.KindOf(err)))
	return d.deadLetter(ctx, e, DeadLetter{
		RuleID: r.RuleID, Action: "issueCoupon", TemplateID: r.TemplateID, Recipient: r.UserID,
		Attempts: 1, Error: string(apierr.KindOf(err)) + ": " + apierr.Message(err),
	}, r.Effect)
}

// permanent reports whether an issue failed in a way a retry cannot mend.
func permanent(err error) bool {
	switch apierr.KindOf(err) {
	case apierr.TemplateNotFound, apierr.NotClaimable, apierr.OutOfStock, apierr.BadRequest:
		return true
	}
	return false
}

// deliver POSTs e to the rule's webhook, unless an earlier delivery of e
// already ended (delivered or dead-lettered). Two deliveries racing may
// both POST: webhooks are at least once, and receivers tell repeats by
// X-Laoyou-Event-Id.
func (d *Dispatcher) deliver(ctx context.Context, e event.Event, r Rule) error {
	effect := Effect(e.ID, r.ID, "webhook")
	done, err := d.Store.EffectDone(ctx, effect)
	if err != nil || done {
		return err
	}
	res, err := d.Webhooks.Deliver(ctx, *r.Webhook, e)
	if err != nil {
		return err
	}
	if res.OK {
		return d.Store.MarkDone(ctx, e.Tenant, effect)
	}
	d.log().WarnContext(ctx, "webhook failed", "eventId", e.ID, "ruleId", r.ID, "attempts", res.Attempts, "status", res.Status, "reason", res.Error)
	return d.deadLetter(ctx, e, DeadLetter{
		RuleID: r.ID, Action: "webhook", URL: r.Webhook.URL,
		Attempts: res.Attempts, Status: res.Status, Error: res.Error,
	}, effect)
}

func (d *Dispatcher) deadLetter(ctx context.Context, e event.Event, dl DeadLetter, effect string) error {
	payload, err := Payload(e)
	if err != nil {
		return err
	}
	dl.Tenant, dl.EventID, dl.EventType, dl.Payload, dl.At = e.Tenant, e.ID, e.Type, payload, d.now().UTC()
	return d.Store.DeadLetter(ctx, dl, effect)
}

func (d *Dispatcher) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

// fen reads an amount in fen as JSON or DynamoDB decoding gives it.
func fen(v any) *int64 {
	var n int64
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || x < 0 || x > math.MaxInt32*1000 {
			return nil
		}
		n = int64(x)
	case int:
		n = int64(x)
	case int64:
		n = x
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return nil
		}
		n = i
	default:
		return nil
	}
	if n < 0 {
		return nil
	}
	return &n
}

// RuleSource loads a tenant's rules.
type RuleSource interface {
	Rules(ctx context.Context, tenant string) ([]Rule, error)
}

// RuleCache keeps each tenant's rules for TTL, so a busy stream reads them
// once every few seconds, not once per event.
type RuleCache struct {
	Source RuleSource
	Now    func() time.Time

	cache.Map[string, []Rule] // TTL, and Forget so this function sees a change at once
}

// NewRuleCache caches src for ttl.
func NewRuleCache(src RuleSource, ttl time.Duration) *RuleCache {
	return &RuleCache{Source: src, Now: time.Now, Map: cache.Map[string, []Rule]{TTL: ttl}}
}

// Get returns the tenant's rules.
func (c *RuleCache) Get(ctx context.Context, tenant string) ([]Rule, error) {
	return c.Load(ctx, tenant, c.Now(), func(ctx context.Context) ([]Rule, error) {
		return c.Source.Rules(ctx, tenant)
	})
}
