package api

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/token"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// stack is every function's API over a fresh table in DynamoDB Local.
type stack struct {
	t    *testing.T
	db   *ddbtest.DB
	deps *app.Deps
	apis map[string]lambdaAPI
	// wechat is the stack's WeChat stand-in.
	wechat *wechatstub.Server
}

type lambdaAPI interface {
	Handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	Routes() []httpapi.Route
}

// newStack makes a stack over a fresh table. A test that reads no stream
// (drainHooks, streamedEvents) and writes many items passes
// ddbtest.WithoutStream(), so that DynamoDB Local, shared by every test,
// does not keep its stream records (see WithoutStream).
func newStack(t *testing.T, opts ...ddbtest.Option) *stack {
	t.Helper()
	return newStackWith(t, nil, opts...)
}

// testIssuer is the issuer of the stack's own sign-in tokens.
const (
	testIssuer   = "https://api.example.com/prod"
	testAudience = "laoyou-test"
)

// newStackWith is newStack with the configuration changed by setup first.
// Its auth function signs with a test key, seals with a random key and
// calls a WeChat stand-in of its own (s.wechat).
func newStackWith(t *testing.T, setup func(*config.Config), opts ...ddbtest.Option) *stack {
	t.Helper()
	db := ddbtest.New(t, opts...)
	client := db.NewClient(t, dynamo.FunctionOptions()...) // as each function's own client
	stub, err := wechatstub.Start(wechatstub.New())
	require.NoError(t, err)
	t.Cleanup(func() { _ = stub.Close() })
	cfg := config.Config{
		Table:           db.Table,
		ShareBaseURL:    "https://h5.example.com/s",
		MiniProgramPage: "/pages/landing/index",
		PhonePepper:     "test-pepper",
		WeChatAPIBase:   stub.URL,
		IssuerURL:       testIssuer,
		TokenAudience:   testAudience,
	}
	if setup != nil {
		setup(&cfg)
	}
	deps := app.DepsWith(client, cfg, logging.New(newTestLog(t), "ERROR"))
	deps.Tokens = token.KeySet{Current: testSigningKey(t)}
	sealKey := make([]byte, secret.KeySize)
	_, _ = rand.Read(sealKey)
	deps.Secrets, err = secret.NewAESGCM(sealKey)
	require.NoError(t, err)
	s := &stack{t: t, db: db, deps: deps, wechat: stub, apis: apisOf(deps)}
	return s
}

// testLog carries a stack's error log lines (a 5xx's cause: the handler
// logs it, the body does not say it) into its test's log, shown when the
// test fails. Lines written after the test has ended are dropped, as
// testing.T panics on them.
type testLog struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func newTestLog(t *testing.T) *testLog {
	w := &testLog{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return w
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// apisOf is every HTTP function's API over deps, by function name.
func apisOf(deps *app.Deps) map[string]lambdaAPI {
	return map[string]lambdaAPI{
		"referral": Referral(deps),
		"coupons":  Coupons(deps),
		"groupbuy": GroupBuy(deps),
		"admin":    Admin(deps),
		"auth":     Auth(deps),
	}
}

var (
	signingKeyOnce sync.Once
	signingKey     *token.RSAKey
)

// testSigningKey is one RSA key for the package's tests: generating one
// takes a while.
func testSigningKey(t *testing.T) *token.RSAKey {
	signingKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		signingKey = token.NewRSAKey(k)
	})
	return signingKey
}

// who is a token's claims.
type who map[string]string

func patient(tenant, user string) who {
	return who{"sub": user, "tenant": tenant, "role": "patient", "name": "张" + user}
}

func staff(tenant, user string) who { return who{"sub": user, "tenant": tenant, "role": "staff"} }

// call is one request as API Gateway hands it to a function.
type call struct {
	fn      string // which function's API
	route   string // "POST /v1/groups/{groupId}/join"
	params  map[string]string
	query   map[string]string
	body    string
	as      who // nil: no token
	headers map[string]string
}

type reply struct {
	Status  int
	Body    string
	Calls   *dynamo.Calls
	Headers map[string]string
	Base64  bool // Body is base64-encoded bytes
}

func (r reply) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Body), &m), r.Body)
	return m
}

func (r reply) Code(t *testing.T) string {
	t.Helper()
	m := r.JSON(t)
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (s *stack) do(c call) reply {
	s.t.Helper()
	method, path, _ := strings.Cut(c.route, " ")
	for k, v := range c.params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	headers := map[string]string{"content-type": "application/json"}
	for k, v := range c.headers {
		headers[strings.ToLower(k)] = v
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              c.route,
		RawPath:               path,
		Headers:               headers,
		QueryStringParameters: c.query,
		PathParameters:        c.params,
		Body:                  c.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  c.route,
			RequestID: uuid.NewString(),
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "127.0.0.1"},
		},
	}
	if c.as != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: c.as},
		}
	}
	ctx, calls := dynamo.CountCalls(context.Background())
	api, ok := s.apis[c.fn]
	require.True(s.t, ok, "no function %q", c.fn)
	resp, err := api.Handle(ctx, ev)
	require.NoError(s.t, err)
	return reply{Status: resp.StatusCode, Body: resp.Body, Calls: calls, Headers: resp.Headers, Base64: resp.IsBase64Encoded}
}

// concurrently runs n calls at once and returns their replies in order.
func (s *stack) concurrently(n int, mk func(i int) call) []reply {
	out := make([]reply, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i] = s.do(mk(i))
		}(i)
	}
	close(start)
	wg.Wait()
	return out
}

// spike runs n calls with at most inFlight at a time: a sustained spike of
// many callers at once, without opening more connections at the same
// instant than DynamoDB Local's listener accepts on a small CI machine. A
// call answered 503 (DynamoDB busy beyond the SDK's retries, nothing done
// that its key does not replay) is sent again with its Idempotency-Key, as
// the app does; any other answer is the call's.
func (s *stack) spike(n, inFlight int, mk func(i int) call) []reply {
	out := make([]reply, n)
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c := mk(i)
			require.NotEmpty(s.t, c.headers["Idempotency-Key"], "a spike's call that may be sent again carries a key")
			for range 5 {
				if out[i] = s.do(c); out[i].Status != http.StatusServiceUnavailable {
					break
				}
			}
		}(i)
	}
	wg.Wait()
	return out
}

func statuses(replies []reply) map[int]int {
	m := map[int]int{}
	for _, r := range replies {
		m[r.Status]++
	}
	return m
}
