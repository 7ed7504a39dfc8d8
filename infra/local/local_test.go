package local

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/localauth"
	"github.com/laoyou/laoyou/infra/samtemplate"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/logging"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// running is the local stack served on a free port, as a client sees it.
type running struct {
	t     *testing.T
	url   string
	stack *Stack
}

func startStack(t *testing.T) *running {
	t.Helper()
	return startStackWith(t, func(*Options, net.Listener) {})
}

// startStackWith is startStack with options changed by configure, which
// sees the listener the stack will serve on.
func startStackWith(t *testing.T, configure func(*Options, net.Listener)) *running {
	t.Helper()
	db := ddbtest.New(t)
	cfg := config.Config{
		Table: db.Table, Endpoint: db.Endpoint, Region: "us-east-1",
		ShareBaseURL: "http://127.0.0.1:3000/s", MiniProgramPage: "/pages/landing/index",
		PhonePepper: "test-pepper", AllowLoopbackWebhooks: true,
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	opts := Options{Config: cfg, Demo: true, Log: logging.Discard(), StreamInterval: 100 * time.Millisecond}
	configure(&opts, ln)
	st, err := Start(ctx, opts)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- st.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		st.Close()
	})
	return &running{t: t, url: "http://" + ln.Addr().String(), stack: st}
}

type response struct {
	Status int
	Body   map[string]any
	Raw    string
}

// send makes one HTTP request; body is sent as is.
func (r *running) send(method, path, token, body string, headers ...string) response {
	r.t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	require.NoError(r.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(r.t, err)
	out := response{Status: res.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// token asks the runner for a token, as docs/API.md says a developer does.
func (r *running) token(sub, tenant, role string) string {
	r.t.Helper()
	b, _ := json.Marshal(map[string]string{"sub": sub, "tenant": tenant, "role": role, "name": "Lucy " + sub})
	res := r.send(http.MethodPost, "/_local/token", "", string(b))
	require.Equal(r.t, http.StatusOK, res.Status, res.Raw)
	tok, _ := res.Body["token"].(string)
	require.NotEmpty(r.t, tok)
	return tok
}

func errorCode(res response) string {
	e, _ := res.Body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestReferralFlowThroughTheRunner(t *testing.T) {
	r := startStack(t)
	demo := r.stack.Demo
	require.NotNil(t, demo)

	referrer := r.token(demo.Referrer, demo.Tenant, "patient")
	code := r.send(http.MethodPost, "/v1/referral/code", referrer, "")
	require.Equal(t, http.StatusOK, code.Status, code.Raw)
	require.Equal(t, demo.ReferralCode, code.Body["code"], "the demo referrer keeps the seeded code")
	require.Equal(t, "r="+demo.ReferralCode, code.Body["scene"])

	landing := r.send(http.MethodGet, "/v1/r/"+strings.ToLower(demo.ReferralCode), "", "")
	require.Equal(t, http.StatusOK, landing.Status, landing.Raw)
	require.Equal(t, demo.Tenant, landing.Body["tenant"])
	require.Equal(t, map[string]any{"displayName": "王*"}, landing.Body["referrer"])
	require.NotNil(t, landing.Body["newcomerOffer"])

	newcomer := r.token("newcomer-1", demo.Tenant, "patient")
	body := `{"code":"` + demo.ReferralCode + `"}`
	bind := r.send(http.MethodPost, "/v1/referral/bind", newcomer, body, "Idempotency-Key", "bind-1")
	require.Equal(t, http.StatusOK, bind.Status, bind.Raw)
	replay := r.send(http.MethodPost, "/v1/referral/bind", newcomer, body, "Idempotency-Key", "bind-1")
	require.Equal(t, bind.Status, replay.Status)
	require.Equal(t, bind.Raw, replay.Raw, "a replay answers the stored response")

	me := r.send(http.MethodGet, "/v1/referral/me", referrer, "")
	require.Equal(t, http.StatusOK, me.Status, me.Raw)
	require.Equal(t, map[string]any{"bound": float64(1), "qualified": float64(0), "rewarded": float64(0)}, me.Body["counts"])

	// Another clinic's patient cannot use this clinic's code.
	other := r.token("newcomer-2", "other-clinic", "patient")
	cross := r.send(http.MethodPost, "/v1/referral/bind", other, body)
	require.Equal(t, http.StatusNotFound, cross.Status, cross.Raw)
	require.Equal(t, "CODE_NOT_FOUND", errorCode(cross))
}

func TestProtectedRoutesAnswer401AsAPIGateway(t *testing.T) {
	r := startStack(t)
	issue := func(mutate func(a *localauth.Authority)) string {
		a, err := localauth.New("")
		require.NoError(t, err)
		mutate(a)
		tok, err := a.Issue(localauth.TokenRequest{Sub: "u1", Tenant: DemoTenant, Role: "patient"}, time.Hour)
		require.NoError(t, err)
		return tok
	}
	stack := r.stack.Auth
	sameKey := func(mutate func(a *localauth.Authority)) string {
		saved := *stack
		defer func() { *stack = saved }()
		mutate(stack)
		tok, err := stack.Issue(localauth.TokenRequest{Sub: "u1", Tenant: DemoTenant, Role: "patient"}, time.Hour)
		require.NoError(t, err)
		return tok
	}
	tests := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"not a JWT", "not-a-jwt"},
		{"signed by another key", issue(func(*localauth.Authority) {})},
		{"wrong audience", sameKey(func(a *localauth.Authority) { a.Audience = "someone-else" })},
		{"wrong issuer", sameKey(func(a *localauth.Authority) { a.Issuer = "https://evil.example" })},
		{"expired", sameKey(func(a *localauth.Authority) { a.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) } })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, route := range [][2]string{{"POST", "/v1/referral/code"}, {"GET", "/v1/referral/me"}, {"POST", "/v1/referral/bind"}} {
				res := r.send(route[0], route[1], tc.token, `{"code":"ABCDEFGHJ"}`)
				require.Equal(t, http.StatusUnauthorized, res.Status, route)
				require.JSONEq(t, `{"message":"Unauthorized"}`, res.Raw, route)
			}
		})
	}
	// The same routes accept a token from /_local/token.
	ok := r.send(http.MethodGet, "/v1/referral/me", r.token("u1", DemoTenant, "patient"), "")
	require.Equal(t, http.StatusOK, ok.Status, ok.Raw)
}

func TestBadInputGetsA4xxWithItsCode(t *testing.T) {
	r := startStack(t)
	tok := r.token("u1", DemoTenant, "patient")
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/v1/referral/bind", `{"code":`, 400, "BAD_REQUEST"},
		{"wrong type", "POST", "/v1/referral/bind", `{"code":42}`, 400, "BAD_REQUEST"},
		{"missing field", "POST", "/v1/referral/bind", `{}`, 400, "BAD_REQUEST"},
		{"unknown field", "POST", "/v1/referral/bind", `{"code":"ABCDEFGHJ","userId":"someone"}`, 400, "BAD_REQUEST"},
		{"not an object", "POST", "/v1/referral/bind", `["ABCDEFGHJ"]`, 400, "BAD_REQUEST"},
		{"70 KiB body", "POST", "/v1/referral/bind", `{"code":"` + strings.Repeat("A", 70<<10) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"unknown code", "POST", "/v1/referral/bind", `{"code":"ZZZZZZZZZ"}`, 404, "CODE_NOT_FOUND"},
		{"unknown route", "GET", "/v1/no-such-thing", ``, 404, "NOT_FOUND"},
		{"unknown method", "DELETE", "/v1/referral/code", ``, 404, "NOT_FOUND"},
		{"bad idempotency key", "POST", "/v1/referral/code", ``, 400, "BAD_REQUEST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.name == "bad idempotency key" {
				headers = []string{"Idempotency-Key", strings.Repeat("k", 256)}
			}
			res := r.send(tc.method, tc.path, tok, tc.body, headers...)
			require.Equal(t, tc.status, res.Status, res.Raw)
			require.Equal(t, tc.code, errorCode(res), res.Raw)
			require.NotEmpty(t, res.Body["requestId"], res.Raw)
		})
	}
}

func TestLocalInvokeRunsScheduledAndStreamFunctions(t *testing.T) {
	r := startStack(t)
	closer := r.send(http.MethodPost, "/_local/invoke/closer", "", "")
	require.Equal(t, http.StatusOK, closer.Status, closer.Raw)
	require.Contains(t, closer.Body, "settled")

	hooks := r.send(http.MethodPost, "/_local/invoke/hooks", "", "{}")
	require.Equal(t, http.StatusOK, hooks.Status, hooks.Raw)
	require.Contains(t, hooks.Body, "records")

	unknown := r.send(http.MethodPost, "/_local/invoke/nothing", "", "")
	require.Equal(t, http.StatusNotFound, unknown.Status)
}

// Every route of template.yaml is served by its function, with the same
// access, and no function serves a route API Gateway would never send it.
func TestTemplateRoutesMatchTheFunctions(t *testing.T) {
	tmpl := ddbtest.Template(t)
	d := startStack(t).stack.Deps
	apis := Functions(d).APIs

	declared := map[string]map[string]bool{} // function → route key → public
	for _, rt := range tmpl.Routes() {
		if rt.Path == "$default" {
			continue
		}
		if declared[rt.Function] == nil {
			declared[rt.Function] = map[string]bool{}
		}
		declared[rt.Function][rt.String()] = rt.Public
	}
	for fn, a := range apis {
		served := map[string]bool{}
		for _, rt := range a.Routes() {
			served[rt.Key] = rt.Access == auth.Public
		}
		require.Equal(t, declared[fn], served, "routes of %s: template.yaml vs. shared/api", fn)
	}
	for fn := range declared {
		require.Contains(t, apis, fn, "template.yaml routes to %s, which has no handler", fn)
	}
	require.Len(t, tmpl.Schedules(), len(Functions(d).Scheduled))
	require.Len(t, tmpl.StreamConsumers(), len(Functions(d).Stream))
}

func TestRateInterval(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
		ok   bool
	}{
		{"rate(1 minute)", time.Minute, true},
		{"rate(5 minutes)", 5 * time.Minute, true},
		{"rate(2 hours)", 2 * time.Hour, true},
		{"rate(1 day)", 24 * time.Hour, true},
		{"rate(0 minutes)", 0, false},
		{"rate(one minute)", 0, false},
		{"cron(0 3 * * ? *)", 0, false},
		{"rate(1 fortnight)", 0, false},
	}
	for _, tc := range tests {
		got, err := RateInterval(tc.expr)
		if !tc.ok {
			require.Error(t, err, tc.expr)
			continue
		}
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.want, got, tc.expr)
	}
}

func TestShortNameIsTheFunctionsFolder(t *testing.T) {
	path, err := samtemplate.FindPath()
	require.NoError(t, err)
	tmpl, err := samtemplate.Load(path)
	require.NoError(t, err)
	for _, id := range tmpl.Functions() {
		require.DirExists(t, strings.TrimSuffix(path, "template.yaml")+"functions/"+ShortName(id), id)
	}
}
