package hook

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/idempotency"
)

// RuleStore keeps rules and lists dead letters for the admin routes.
type RuleStore interface {
	SaveRule(ctx context.Context, r Rule) error
	Rules(ctx context.Context, tenant string) ([]Rule, error)
	DeadLetters(ctx context.Context, tenant string) ([]DeadLetter, error)
}

// Rules is what a clinic's admin does with hook rules.
type Rules struct {
	Store     RuleStore
	Templates coupon.TemplateSource
	// Cache is the rule cache of this process, told of changes so its
	// dispatcher sees them at once; others see them within its TTL.
	Cache *RuleCache
	Now   func() time.Time
}

// RuleView is a rule as the API shows it: the webhook's secret masked.
type RuleView struct {
	RuleID      string       `json:"ruleId"`
	Event       string       `json:"event"`
	IssueCoupon *IssueCoupon `json:"issueCoupon,omitempty"`
	Webhook     *Webhook     `json:"webhook,omitempty"`
	// SubscribeMessage and To: a subscribe-message rule.
	SubscribeMessage *SubscribeMessage `json:"subscribeMessage,omitempty"`
	To               Recipient         `json:"to,omitempty"`
	UpdatedAt        time.Time         `json:"updatedAt"`
}

func (r Rule) view() RuleView {
	v := RuleView{
		RuleID: r.ID, Event: string(r.Event), IssueCoupon: r.IssueCoupon,
		SubscribeMessage: r.SubscribeMessage, UpdatedAt: r.UpdatedAt,
	}
	if r.SubscribeMessage != nil {
		v.To = r.To
	}
	if r.Webhook != nil {
		v.Webhook = &Webhook{URL: r.Webhook.URL, Secret: MaskSecret(r.Webhook.Secret)}
	}
	return v
}

// MaskSecret shows the last 4 characters of a secret, enough to tell which
// one is configured, never enough to sign with.
func MaskSecret(s string) string {
	if len(s) < MinSecret {
		return "****"
	}
	return "****" + s[len(s)-4:]
}

// Save creates or replaces a rule. An issueCoupon rule must name an
// existing template of the tenant.
func (a *Rules) Save(ctx context.Context, r Rule, allowLoopback bool) (RuleView, error) {
	const op = apierr.Op("hook.Save")
	if err := r.Validate(allowLoopback); err != nil {
		return RuleView{}, err
	}
	if r.IssueCoupon != nil {
		t, err := a.Templates.Template(ctx, r.Tenant, r.IssueCoupon.TemplateID)
		if err != nil {
			return RuleView{}, apierr.E(op, err)
		}
		if t == nil {
			return RuleView{}, apierr.E(op, apierr.TemplateNotFound, `field "issueCoupon.templateId" names no coupon template of this clinic`)
		}
	}
	r.UpdatedAt = a.Now().UTC()
	saved := r.view()
	if err := idempotency.Prepare(ctx, saved); err != nil {
		return RuleView{}, apierr.E(op, err)
	}
	if err := a.Store.SaveRule(ctx, r); err != nil {
		return RuleView{}, apierr.E(op, err)
	}
	a.Cache.Forget(r.Tenant)
	return saved, nil
}

// List is the tenant's rules, secrets masked.
func (a *Rules) List(ctx context.Context, tenant string) ([]RuleView, error) {
	rules, err := a.Store.Rules(ctx, tenant)
	if err != nil {
		return nil, apierr.E(apierr.Op("hook.List"), err)
	}
	out := make([]RuleView, 0, len(rules))
	for _, r := range rules {
		out = append(out, r.view())
	}
	return out, nil
}

// DeadLetters is the tenant's dead letters, newest first.
func (a *Rules) DeadLetters(ctx context.Context, tenant string) ([]DeadLetter, error) {
	dls, err := a.Store.DeadLetters(ctx, tenant)
	if err != nil {
		return nil, apierr.E(apierr.Op("hook.DeadLetters"), err)
	}
	if dls == nil {
		dls = []DeadLetter{}
	}
	return dls, nil
}
