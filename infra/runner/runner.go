// Package runner is the local stand-in for API Gateway (HTTP API, payload
// format 2.0, JWT authorizer), Lambda, EventBridge Scheduler and the
// DynamoDB stream event source: one process that serves every route of
// template.yaml and calls the Lambda handlers in-process.
//
// The caller (the local runner's main package) reads the routes from the
// template and hands them in with the handlers; this package never reads the
// template. What it does promise is that a handler sees exactly the event it
// would see in AWS (same field names, same encoding rules, same claims) and
// that a client sees the same answers API Gateway would give before any
// function runs: 401 {"message":"Unauthorized"}, 404 {"message":"Not Found"},
// 413 {"message":"Request Entity Too Large"}, 500 {"message":"Internal
// Server Error"}.
//
// A few routes under /_local/ belong to the runner itself and are never
// forwarded to a function: token minting, the JWKS, and running a scheduled
// or stream function on demand.
//
// It is ours because no tool does this without Docker (sam local does not
// apply the JWT authorizer nor feed streams or schedules). Its stream poller
// (StreamPoller) too: the AWS SDK offers only the raw DescribeStream and
// GetRecords calls, and no library plays Lambda's event source mapping
// (batch size, a checkpoint per shard, retrying from the lowest of the batch
// item failures) against DynamoDB Local's stream.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/laoyou/laoyou/infra/localauth"
)

// HTTPHandler is a Lambda handler behind an API Gateway HTTP API route.
type HTTPHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// InvokeFunc runs a function that is not behind a route (a scheduled or a
// stream function) with a raw JSON payload, as `sam local invoke` would.
type InvokeFunc func(ctx context.Context, payload json.RawMessage) (any, error)

// Route is one route of the HTTP API. Method is an HTTP method or "ANY";
// Path is "$default" or a path template with {name} and a final {name+}.
// Public routes have no authorizer; all others need a valid JWT.
type Route struct {
	Function string
	Method   string
	Path     string
	Public   bool
}

// Config is what the runner serves.
type Config struct {
	// Addr to listen on; default DefaultAddr.
	Addr string
	// Routes of the HTTP API.
	Routes []Route
	// HTTP holds the handler of each Route.Function.
	HTTP map[string]HTTPHandler
	// Invoke holds the functions POST /_local/invoke/{function} and
	// RunSchedule can run, by short name ("closer", "hooks").
	Invoke map[string]InvokeFunc
	// Auth verifies tokens on protected routes and mints them at
	// /_local/token. Required when any route is protected.
	Auth *localauth.Authority
	// Logger for the access log and errors; default slog.Default().
	Logger *slog.Logger
	// Stage name reported in requestContext.stage; default "$default".
	// Paths are matched as they come (no stage prefix), as with the
	// $default stage in AWS.
	Stage string
	// Timeout bounds each call of an HTTP handler (its ctx deadline); default
	// 30s, API Gateway's integration timeout.
	Timeout time.Duration
	// InvokeTimeout bounds each call of an Invoke function; default 15m,
	// Lambda's maximum.
	InvokeTimeout time.Duration
	// Region used in ARNs and event payloads; default $AWS_REGION, else
	// us-east-1.
	Region string
	// Pages are static pages served before any route, by path prefix (e.g.
	// "/s": the H5 share landing page), as a CDN serves them beside the API
	// in AWS. A prefix matches itself and every path under it.
	Pages map[string]http.Handler
}

// Defaults.
const (
	DefaultAddr          = "127.0.0.1:3000"
	DefaultStage         = "$default"
	DefaultTimeout       = 30 * time.Second
	DefaultInvokeTimeout = 15 * time.Minute
	// MaxBodyBytes is API Gateway's payload limit for HTTP APIs.
	MaxBodyBytes = 10 << 20
	// AccountID is the account reported in events: local resources belong to
	// no AWS account.
	AccountID = "000000000000"
	// APIID is the apiId reported in events.
	APIID = "local"
	// TokenTTL is the lifetime of tokens minted at /_local/token.
	TokenTTL = 24 * time.Hour
)

// Server serves the routes of one HTTP API.
type Server struct {
	cfg    Config
	log    *slog.Logger
	table  *routeTable
	region string
	now    func() time.Time
}

// New validates cfg and returns a Server. It fails when a route's function
// has no handler, a path template is malformed, two routes share a route
// key, or a protected route exists without an Authority.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Stage == "" {
		cfg.Stage = DefaultStage
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.InvokeTimeout <= 0 {
		cfg.InvokeTimeout = DefaultInvokeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = os.Getenv("AWS_REGION")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	var errs []error
	for _, r := range cfg.Routes {
		if cfg.HTTP[r.Function] == nil {
			errs = append(errs, fmt.Errorf("runner: route %s %s: no handler for function %q", r.Method, r.Path, r.Function))
		}
		if !r.Public && cfg.Auth == nil {
			errs = append(errs, fmt.Errorf("runner: route %s %s is protected but Config.Auth is nil", r.Method, r.Path))
		}
	}
	table, err := newRouteTable(cfg.Routes)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, log: cfg.Logger, table: table, region: cfg.Region, now: time.Now}, nil
}

// Handler returns the http.Handler serving the API and the /_local routes.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// ListenAndServe listens on Config.Addr and serves until ctx is done, then
// shuts down gracefully (in-flight requests get up to 10 seconds). It
// returns nil after a shutdown caused by ctx.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener (tests use port 0).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	stopped := make(chan struct{})
	shutdownDone := make(chan error, 1)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
			shutdownDone <- nil
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		shutdownDone <- srv.Shutdown(sctx)
	}()
	s.log.Info("local API listening", "addr", ln.Addr().String(), "routes", len(s.cfg.Routes))
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return <-shutdownDone
	}
	close(stopped)
	<-shutdownDone
	return fmt.Errorf("runner: %w", err)
}
