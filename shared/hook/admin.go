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
	// AllowLoopback says whether a webhook may point at loopback over http
	// (the local runner); read at each save, as the setting may change.
	AllowLoopback func() bool
}

// MaskSecret shows the last 4 characters of a secret, enough to tell which
// one is configured, never enough to sign with.
func MaskSecret(s string) string {
	if len(s) < MinSecret {
		return "****"
	}
	return "****" + s[len(s)-4:]
}

// Save creates or replaces a rule and returns it as saved. An issueCoupon
// rule must name an existing template of the tenant.
func (a *Rules) Save(ctx context.Context, r Rule) (Rule, error) {
	const op = apierr.Op("hook.Save")
	if err := r.Validate(a.AllowLoopback != nil && a.AllowLoopback()); err != nil {
		return Rule{}, err
	}
	if r.IssueCoupon != nil {
		t, err := a.Templates.Template(ctx, r.Tenant, r.IssueCoupon.TemplateID)
		if err != nil {
			return Rule{}, apierr.E(op, err)
		}
		if t == nil {
			return Rule{}, apierr.E(op, apierr.TemplateNotFound, `field "issueCoupon.templateId" names no coupon template of this clinic`)
		}
	}
	r.UpdatedAt = a.Now().UTC()
	if err := idempotency.Prepare(ctx, r); err != nil {
		return Rule{}, apierr.E(op, err)
	}
	if err := a.Store.SaveRule(ctx, r); err != nil {
		return Rule{}, apierr.E(op, err)
	}
	a.Cache.Forget(r.Tenant)
	return r, nil
}

// List is the tenant's rules.
func (a *Rules) List(ctx context.Context, tenant string) ([]Rule, error) {
	rules, err := a.Store.Rules(ctx, tenant)
	if err != nil {
		return nil, apierr.E(apierr.Op("hook.List"), err)
	}
	return rules, nil
}

// DeadLetters is the tenant's dead letters, newest first.
func (a *Rules) DeadLetters(ctx context.Context, tenant string) ([]DeadLetter, error) {
	dls, err := a.Store.DeadLetters(ctx, tenant)
	if err != nil {
		return nil, apierr.E(apierr.Op("hook.DeadLetters"), err)
	}
	return dls, nil
}
