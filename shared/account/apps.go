package account

import (
	"context"
	"sync"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/wechat"
)

// AppsTTL is how long a warm function keeps a tenant's mini-program.
const AppsTTL = 10 * time.Second

var _ wechat.Apps = (*Apps)(nil)

// Apps finds a tenant's mini-program with its secret opened, cached for a
// few seconds so a warm sign-in neither reads it nor asks KMS.
type Apps struct {
	Store   Store
	Secrets secret.Sealer
	TTL     time.Duration
	Now     func() time.Time

	mu    sync.Mutex
	cache map[string]cachedApp
}

type cachedApp struct {
	app wechat.App
	at  time.Time
}

// App returns the tenant's mini-program; WECHAT_NOT_CONFIGURED if none.
func (a *Apps) App(ctx context.Context, tenant string) (wechat.App, error) {
	const op = apierr.Op("account.Apps")
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[tenant]
	a.mu.Unlock()
	if ok && now.Sub(c.at) < a.ttl() {
		return c.app, nil
	}
	cfg, err := a.Store.LoadApp(ctx, tenant)
	if err != nil {
		return wechat.App{}, apierr.E(op, err)
	}
	if cfg == nil || cfg.SealedSecret == "" {
		return wechat.App{}, apierr.E(op, apierr.WeChatNotConfigured, "this clinic has no mini-program configured")
	}
	plain, err := a.Secrets.Open(ctx, cfg.SealedSecret, sealContext(tenant, cfg.AppID))
	if err != nil {
		return wechat.App{}, apierr.E(op, apierr.Internal, err)
	}
	app := wechat.App{ID: cfg.AppID, Secret: plain, EnvVersion: cfg.EnvVersion}
	a.mu.Lock()
	if a.cache == nil {
		a.cache = map[string]cachedApp{}
	}
	a.cache[tenant] = cachedApp{app: app, at: now}
	a.mu.Unlock()
	return app, nil
}

// Forget drops the tenant's cached mini-program (after an admin replaced
// it, in the same process).
func (a *Apps) Forget(tenant string) {
	a.mu.Lock()
	delete(a.cache, tenant)
	a.mu.Unlock()
}

func (a *Apps) ttl() time.Duration {
	if a.TTL > 0 {
		return a.TTL
	}
	return AppsTTL
}

func (a *Apps) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
