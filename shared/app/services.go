package app

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/account"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/metrics"
	"github.com/laoyou/laoyou/shared/mydata"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/tenant"
)

// How long a warm function keeps what it read: coupon templates (a change
// reaches claims in other functions within it), a deal, a seat shard it
// found empty, and a tenant's hook rules.
const (
	templateTTL   = 5 * time.Second
	dealTTL       = 5 * time.Second
	emptyShardTTL = 5 * time.Second
	rulesTTL      = 5 * time.Second
)

// clock is d.Now read at each call, so a clock set later counts.
func (d *Deps) clock() func() time.Time { return func() time.Time { return d.Now() } }

// Coupons is the coupon domain over the store, one per Deps.
func (d *Deps) Coupons() *coupon.Service {
	return d.coupons.get(func() *coupon.Service {
		store := dynamo.CouponStore{Store: d.Store}
		return &coupon.Service{
			Store:     store,
			Templates: coupon.NewTemplateCache(store, templateTTL),
			Now:       d.clock(),
		}
	})
}

// Groups is the group-buy domain over the store, one per Deps: the
// routes, the closer and the reactions of one process share its deal cache
// and its memory of empty seat shards.
func (d *Deps) Groups() *groupbuy.Service {
	return d.groups.get(func() *groupbuy.Service {
		return &groupbuy.Service{
			Store:    dynamo.GroupStore{Store: d.Store},
			Links:    d.Links,
			Pepper:   []byte(d.Config.PhonePepper),
			Now:      d.clock(),
			Settings: d.Settings,
			Deals:    groupbuy.NewDealCache(dealTTL),
			Seats:    groupbuy.NewSeatShards(emptyShardTTL),
		}
	})
}

// Referrals is the referral domain over the store.
func (d *Deps) Referrals() *referral.Service {
	return &referral.Service{
		Store:    dynamo.ReferralStore{Store: d.Store},
		Settings: d.Settings,
		Links:    d.Links,
		Pepper:   []byte(d.Config.PhonePepper),
		Now:      d.clock(),
	}
}

// RewardReleaser releases referral rewards whose hold has passed
// (PENDING→ISSUED), on the closer's schedule.
func (d *Deps) RewardReleaser() *referral.Releaser {
	return &referral.Releaser{Store: dynamo.ReferralStore{Store: d.Store}, Now: d.clock()}
}

// Accounts is the account domain over the store, WeChat and the token
// keys, once per Deps.
func (d *Deps) Accounts() *account.Service {
	return d.accounts.get(func() *account.Service {
		return &account.Service{
			Store:    dynamo.AccountStore{Store: d.Store},
			Apps:     d.Apps(),
			Secrets:  d.Secrets,
			WeChat:   d.WeChat(),
			Tokens:   d.Tokens,
			Issuer:   d.Config.IssuerURL,
			Audience: d.Config.TokenAudience,
			TokenTTL: account.DefaultTokenTTL,
			Pepper:   []byte(d.Config.PhonePepper),
			Now:      d.clock(),
		}
	})
}

// Apps is every tenant's mini-program with its secret opened (cached a few
// seconds): what the WeChat client is called with.
func (d *Deps) Apps() *account.Apps {
	return d.apps.get(func() *account.Apps {
		return &account.Apps{Store: dynamo.AccountStore{Store: d.Store}, Secrets: d.Secrets, Now: d.clock()}
	})
}

// MyData is the data-rights domain (export and erasure) over the store.
func (d *Deps) MyData() *mydata.Service {
	return &mydata.Service{Store: dynamo.ErasureStore{Store: d.Store}, Now: d.clock()}
}

// SettingsAdmin reads and replaces the clinics' program settings, through
// the settings cache of the process.
func (d *Deps) SettingsAdmin() *tenant.Admin {
	return &tenant.Admin{
		Store:     dynamo.SettingsStore{Store: d.Store},
		Templates: dynamo.CouponStore{Store: d.Store},
		Cache:     d.Settings,
	}
}

// Stats is the admin stats' counting and summary over the store.
func (d *Deps) Stats() *hook.Stats {
	return &hook.Stats{Store: dynamo.StatsStore{Store: d.Store}}
}

// Hooks are the hook rules as one process keeps them: the rule cache that
// the admin routes and the dispatcher share, and the dispatcher.
type Hooks struct {
	Rules      *hook.Rules
	Dispatcher *hook.Dispatcher
}

// Hooks is the hook rules' parts, one per Deps.
func (d *Deps) Hooks() *Hooks {
	return d.hooks.get(func() *Hooks {
		store := dynamo.HookStore{Store: d.Store}
		rules := d.HookRules()
		return &Hooks{
			Rules: rules,
			Dispatcher: &hook.Dispatcher{
				Store:      metrics.CountingDeadLetters(store, d.Metrics), // webhooks given up on
				Rules:      rules.Cache,
				Coupons:    d.Coupons(),
				Webhooks:   hook.NewDeliverer(d.allowLoopbackWebhooks),
				Milestones: milestoneSource{d},
				Messages:   d.subscribeMessages(store),
				Now:        d.clock(),
				Log:        d.Log,
			},
		}
	})
}

// HookRules is the admin's side of the hook rules, one per Deps, sharing
// its rule cache with the dispatcher. It is built apart from Hooks so that
// building the admin routes does not fix the dispatcher's log and metrics
// before whoever runs the Deps (a test, the local runner) has set them.
func (d *Deps) HookRules() *hook.Rules {
	return d.rules.get(func() *hook.Rules {
		store := dynamo.HookStore{Store: d.Store}
		return &hook.Rules{
			Store: store, Templates: d.Coupons().Store, Cache: hook.NewRuleCache(store, rulesTTL),
			Now: d.clock(), AllowLoopback: d.allowLoopbackWebhooks,
		}
	})
}

// allowLoopbackWebhooks is read at each use: the local runner and tests
// set it after the functions are built.
func (d *Deps) allowLoopbackWebhooks() bool { return d.Config.AllowLoopbackWebhooks }

// milestoneSource gives the milestone reaction the tenant's milestones
// (cached settings) and the referrer's count of qualified friends.
type milestoneSource struct{ d *Deps }

func (m milestoneSource) Milestones(ctx context.Context, t string) ([]tenant.Milestone, error) {
	s, err := m.d.Settings.Get(ctx, t)
	return s.Milestones, err
}

func (m milestoneSource) QualifiedFriends(ctx context.Context, t, referrerID string) (int, error) {
	return m.d.Referrals().QualifiedFriends(ctx, t, referrerID)
}
