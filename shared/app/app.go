// Package app builds Laoyou's stores and services from configuration: one
// Deps per process, and each domain service over it, built on first use.
// A function's whole wiring is its main.go and the constructors here; the
// HTTP handlers (shared/api) and the stream and schedule handlers
// (shared/stream) take the services they are given.
package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/laoyou/laoyou/shared/account"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/tenant"
	"github.com/laoyou/laoyou/shared/token"
	"github.com/laoyou/laoyou/shared/wechat"
	"github.com/laoyou/laoyou/shared/wxacode"
)

// settingsTTL is how long tenant settings are cached in a warm function.
const settingsTTL = 10 * time.Second

// Deps is what every function's handlers are built from.
type Deps struct {
	Config   config.Config
	Log      *slog.Logger
	Store    *dynamo.Store
	Settings *tenant.Cache
	Links    share.Links
	Now      func() time.Time
	// Metrics receives the business metrics as CloudWatch EMF lines: stdout
	// in Lambda, where CloudWatch Logs picks them up; discarded elsewhere.
	Metrics io.Writer
	// WeChatApps finds each tenant's mini-program; nil: none has one.
	WeChatApps wechat.Apps

	// Tokens signs sign-in tokens (a KMS key in AWS, the runner's key file
	// locally); Secrets seals tenants' WeChat app secrets.
	// Only the functions that need them set them (functions/*/main.go), so
	// the others carry no KMS client.
	Tokens  token.Signer
	Secrets secret.Sealer

	// The domain services, built on first use and kept as long as the Deps:
	// their caches (templates, deals, rules) and memories of sold-out shards
	// live while the function stays warm, and every API built on the same
	// Deps (the local runner builds all of them on one) shares them, so an
	// admin's change is seen at once there.
	coupons  lazy[*coupon.Service]
	groups   lazy[*groupbuy.Service]
	hooks    lazy[*Hooks]
	rules    lazy[*hook.Rules]
	accounts lazy[*account.Service]
	apps     lazy[*account.Apps]
	weChat   lazy[*wechat.Client]
	codes    lazy[*wxacode.Service]
}

// lazy is a value built on first use, once.
type lazy[T any] struct {
	once sync.Once
	v    T
}

func (l *lazy[T]) get(build func() T) T {
	l.once.Do(func() { l.v = build() })
	return l.v
}

// FromEnv builds the dependencies of a Lambda function from its
// environment. A function that cannot start (no PHONE_PEPPER, no
// DynamoDB client) exits, so Lambda reports the failed init.
func FromEnv() *Deps {
	cfg, err := config.FromEnv()
	log := logging.New(os.Stdout, cfg.LogLevel)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	d, err := NewDeps(context.Background(), cfg, log)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	d.Metrics = os.Stdout
	return d
}

// NewDeps connects to DynamoDB as cfg says.
func NewDeps(ctx context.Context, cfg config.Config, log *slog.Logger) (*Deps, error) {
	db, err := dynamo.NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return DepsWith(db, cfg, log), nil
}

// DepsWith builds the dependencies over an existing client (tests bring
// their own, with fault injection or counting).
func DepsWith(db *dynamodb.Client, cfg config.Config, log *slog.Logger) *Deps {
	store := dynamo.NewStore(db, cfg.Table)
	store.Retention = cfg.Retention
	return &Deps{
		Config:   cfg,
		Log:      log,
		Store:    store,
		Settings: tenant.NewCache(dynamo.SettingsStore{Store: store}, settingsTTL),
		Links:    share.Links{BaseURL: cfg.ShareBaseURL, MiniProgramPage: cfg.MiniProgramPage},
		Now:      time.Now,
		Metrics:  io.Discard,
	}
}
