package account

import (
	"context"
	"sync"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/cache"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/wechat"
)

// AppsTTL is how long a warm function keeps a tenant's mini-program.
const AppsTTL = 10 * time.Second

var _ wechat.Apps = (*Apps)(nil)

// Apps finds a tenant's mini-program with its secret opened, cached for a
// few seconds so a warm sign-in neither reads it nor asks KMS. A tenant with
// none is not cached: it answers at once when one is configured.
type Apps struct {
	Store   Store
	Secrets secret.Sealer
	TTL     time.Duration // 0: AppsTTL
	Now     func() time.Time

	once  sync.Once
	cache *cache.Map[string, wechat.App]
}

// App returns the tenant's mini-program; WECHAT_NOT_CONFIGURED if none.
func (a *Apps) App(ctx context.Context, tenant string) (wechat.App, error) {
	const op = apierr.Op("account.Apps")
	return a.apps().Load(ctx, tenant, a.now(), func(ctx context.Context) (wechat.App, error) {
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
		return wechat.App{ID: cfg.AppID, Secret: plain, EnvVersion: cfg.EnvVersion}, nil
	})
}

// Forget drops the tenant's cached mini-program (after an admin replaced
// it, in the same process).
func (a *Apps) Forget(tenant string) {
	a.apps().Forget(tenant)
}

// apps is the cache, made on first use so the zero Apps (and one built
// with a literal) keeps mini-programs for AppsTTL.
func (a *Apps) apps() *cache.Map[string, wechat.App] {
	a.once.Do(func() {
		ttl := a.TTL
		if ttl <= 0 {
			ttl = AppsTTL
		}
		a.cache = cache.NewMap[string, wechat.App](ttl)
	})
	return a.cache
}

func (a *Apps) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
