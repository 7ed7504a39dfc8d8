package apistack

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/local"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/token"
)

// Stack is every function of the template over one table, wired as
// infra/local wires them, with a client that counts calls (dynamo.Calls),
// and records writes and reads when asked (Writes, Reads).
type Stack struct {
	Table  *Table
	Client *dynamodb.Client
	Deps   *app.Deps
	Fns    local.Handlers
	Clock  *Clock
	Writes *WriteLog // off until Writes.Start
	Reads  *ReadLog  // off until Reads.Start
	// WeChat is the stand-in the functions call, shared by Fresh copies.
	WeChat *wechatstub.Server

	routes map[string]string // route key → function logical id
}

// NewStack builds the functions over t with a client of their own.
func NewStack(ctx context.Context, t *Table) (*Stack, error) {
	s := &Stack{Table: t, Clock: &Clock{}, Writes: &WriteLog{}, Reads: &ReadLog{}}
	client, err := ddblocal.NewClient(ctx, t.DB.Endpoint, dynamo.WithCallCounting, s.observe)
	if err != nil {
		return nil, err
	}
	if s.WeChat, err = wechatstub.Start(wechatstub.New()); err != nil {
		return nil, err
	}
	s.Client = client
	s.wire()
	return s, nil
}

// Config is the functions' configuration over table.
func Config(table string) config.Config {
	return config.Config{
		Table:           table,
		ShareBaseURL:    "https://h5.example.com/s",
		MiniProgramPage: "/pages/landing/index",
		PhonePepper:     "bench-pepper",
		IssuerURL:       "https://api.example.com/prod",
		TokenAudience:   "laoyou-bench",
	}
}

func (s *Stack) wire() {
	cfg := Config(s.Table.Name)
	cfg.WeChatAPIBase = s.WeChat.URL
	s.Deps = app.DepsWith(s.Client, cfg, logging.Discard())
	s.Deps.Now = s.Clock.Now
	s.Deps.Tokens = token.KeySet{Current: benchSigningKey()}
	s.Deps.Secrets = benchSealer
	s.Fns = local.Functions(s.Deps)
	s.routes = map[string]string{}
	for fn, a := range s.Fns.APIs {
		for _, r := range a.Routes() {
			s.routes[r.Key] = fn
		}
	}
}

var (
	signingOnce sync.Once
	signingKey  *token.RSAKey
	// benchSealer seals app secrets with a fixed key, so a Fresh stack
	// opens what another sealed.
	benchSealer, _ = secret.NewAESGCM(make([]byte, secret.KeySize))
)

// benchSigningKey is one token key for every stack of the process.
func benchSigningKey() *token.RSAKey {
	signingOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		signingKey = token.NewRSAKey(k)
	})
	return signingKey
}

// Fresh is the same functions over the same table and client, as a newly
// started execution environment has them: nothing cached (tenant settings,
// deals, templates, rules).
func (s *Stack) Fresh() *Stack {
	f := *s
	f.wire()
	return &f
}

// Clock is the functions' time: the real time plus an offset, so a
// measurement can move past expiries without waiting.
type Clock struct{ offset atomic.Int64 }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Claims are a token's claims, as API Gateway's JWT authorizer passes them.
type Claims map[string]string

// Patient is a patient of tenant signed in as user.
func Patient(tenant, user string) Claims {
	return Claims{"sub": user, "tenant": tenant, "role": "patient", "name": "张" + user}
}

// Staff is a member of a clinic's staff.
func Staff(tenant, user string) Claims { return Claims{"sub": user, "tenant": tenant, "role": "staff"} }

// Admin is a clinic's administrator.
func Admin(tenant, user string) Claims { return Claims{"sub": user, "tenant": tenant, "role": "admin"} }

// Request is one API call.
type Request struct {
	Route          string // route key: "POST /v1/groups/{groupId}/join"
	Params         map[string]string
	Query          map[string]string
	Body           string
	As             Claims // nil: no token
	IdempotencyKey string
}

// Event is the request as API Gateway (HTTP API, payload 2.0) hands it to
// the function.
func (r Request) Event() events.APIGatewayV2HTTPRequest {
	method, path, _ := strings.Cut(r.Route, " ")
	for k, v := range r.Params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	headers := map[string]string{"content-type": "application/json"}
	if r.IdempotencyKey != "" {
		headers["idempotency-key"] = r.IdempotencyKey
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              r.Route,
		RawPath:               path,
		Headers:               headers,
		QueryStringParameters: r.Query,
		PathParameters:        r.Params,
		Body:                  r.Body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  r.Route,
			RequestID: uuid.NewString(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1",
			},
		},
	}
	if r.As != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: r.As},
		}
	}
	return ev
}

// Reply is a function's answer and the DynamoDB calls it took.
type Reply struct {
	Status  int
	Body    string
	Headers map[string]string
	Calls   *dynamo.Calls
}

// Do hands r to the function that serves its route.
func (s *Stack) Do(ctx context.Context, r Request) (Reply, error) {
	return s.DoEvent(ctx, r.Route, r.Event())
}

// DoEvent hands an event already built to the function serving route.
func (s *Stack) DoEvent(ctx context.Context, route string, ev events.APIGatewayV2HTTPRequest) (Reply, error) {
	fn, ok := s.routes[route]
	if !ok {
		return Reply{}, fmt.Errorf("apistack: no function serves %q", route)
	}
	ctx, calls := dynamo.CountCalls(ctx)
	resp, err := s.Fns.APIs[fn].Handle(ctx, ev)
	return Reply{Status: resp.StatusCode, Body: resp.Body, Headers: resp.Headers, Calls: calls}, err
}

// Must is Do for set-up requests: any answer but want is an error.
func (s *Stack) Must(ctx context.Context, r Request, want int) (Reply, error) {
	rep, err := s.Do(ctx, r)
	if err == nil && rep.Status != want {
		err = fmt.Errorf("apistack: %s answered %d, not %d: %s", r.Route, rep.Status, want, rep.Body)
	}
	return rep, err
}

// Route is one route of the HTTP API and the function serving it.
type Route struct {
	Key      string // "POST /v1/groups/{groupId}/join"
	Function string // logical id in template.yaml: "GroupBuyFunction"
	Access   auth.Access
}

// Method is the route's HTTP method.
func (r Route) Method() string {
	m, _, _ := strings.Cut(r.Key, " ")
	return m
}

// Writes reports whether the route is a write by its method (POST, PUT,
// PATCH, DELETE).
func (r Route) Writes() bool { return r.Method() != http.MethodGet && r.Method() != http.MethodHead }

// TakesKey reports whether the route honours an Idempotency-Key: POST and
// PUT do; a DELETE is idempotent by itself.
func (r Route) TakesKey() bool { return r.Method() == http.MethodPost || r.Method() == http.MethodPut }

// Routes lists every route the functions serve, by key. It needs no
// DynamoDB: the handlers are built over a client that is never called.
func Routes() []Route {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	d := app.DepsWith(client, Config("unused"), logging.Discard())
	return routesOf(local.Functions(d).APIs)
}

// Routes lists the routes of this stack's functions, by key.
func (s *Stack) Routes() []Route { return routesOf(s.Fns.APIs) }

func routesOf(apis map[string]*httpapi.API) []Route {
	var out []Route
	for fn, a := range apis {
		for _, r := range a.Routes() {
			out = append(out, Route{Key: r.Key, Function: fn, Access: r.Access})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
