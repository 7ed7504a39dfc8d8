package app

import (
	"context"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/metrics"
	"github.com/laoyou/laoyou/shared/wechat"
	"github.com/laoyou/laoyou/shared/wxacode"
)

// WeChat is the process's one WeChat client, built on first use: its
// access tokens are shared with every other execution environment through
// the table, and each call is counted in the EMF metrics.
func (d *Deps) WeChat() *wechat.Client {
	return d.weChat.get(func() *wechat.Client {
		base := d.Config.WeChatAPIBase
		if base == "" {
			base = wechat.DefaultBase
		}
		return wechat.New(base,
			wechat.WithTokenStore(dynamo.WeChatStore{Store: d.Store}),
			wechat.WithClock(d.clock()),
			wechat.WithMetrics(metrics.WeChatMetrics{W: d.Metrics}))
	})
}

// CodeImages draws mini-program codes once and serves them from the table.
// One per Deps, on the functions' clock (claims' expiry).
func (d *Deps) CodeImages() *wxacode.Service {
	return d.codes.get(func() *wxacode.Service {
		s := wxacode.New(dynamo.WeChatStore{Store: d.Store}, d.WeChat())
		s.Now = d.clock()
		return s
	})
}

// MiniPrograms finds each tenant's mini-program: see depsApps.
func (d *Deps) MiniPrograms() wechat.Apps { return depsApps{d} }

// depsApps is d.WeChatApps as it is at each call (it may be set after the
// services are built), else the tenants' mini-programs as admins saved them
// where the function can open their secrets; without either no tenant has a
// mini-program.
type depsApps struct{ d *Deps }

func (a depsApps) App(ctx context.Context, tenant string) (wechat.App, error) {
	if a.d.WeChatApps != nil {
		return a.d.WeChatApps.App(ctx, tenant)
	}
	if a.d.Secrets != nil {
		return a.d.Apps().App(ctx, tenant)
	}
	return wechat.App{}, apierr.E(apierr.Op("app.MiniPrograms"), apierr.WeChatNotConfigured, "this clinic has no WeChat mini-program set")
}

// subscribeMessages is what the hooks function sends subscribe messages
// with.
func (d *Deps) subscribeMessages(store dynamo.HookStore) *hook.Messages {
	return &hook.Messages{
		Apps:    depsApps{d},
		OpenIDs: dynamo.WeChatStore{Store: d.Store},
		Sender:  d.WeChat(),
		Claims:  store,
		Skipped: func(tenant, reason string) { _ = metrics.SubscribeSkipped(d.Metrics, tenant, reason) },
	}
}
