package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/localauth"
)

// recorder is a fake Lambda handler that keeps the events it got.
type recorder struct {
	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
	resp   events.APIGatewayV2HTTPResponse
	err    error
	panics bool
	ctxOK  bool
}

func (r *recorder) handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	lc, ok := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	r.ctxOK = ok && lc.AwsRequestID != "" && hasDeadline
	if r.panics {
		panic("boom")
	}
	return r.resp, r.err
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *recorder) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.events, "handler was not called")
	return r.events[len(r.events)-1]
}

type fixture struct {
	srv    *Server
	auth   *localauth.Authority
	fns    map[string]*recorder
	logBuf *bytes.Buffer
}

var testRoutes = []Route{
	{Function: "groupbuy", Method: "POST", Path: "/v1/groups/{groupId}/join"},
	{Function: "referral", Method: "GET", Path: "/v1/r/{code}", Public: true},
	{Function: "admin", Method: "ANY", Path: "/v1/admin/{proxy+}"},
}

func newFixture(t *testing.T, routes []Route, invoke map[string]InvokeFunc) *fixture {
	t.Helper()
	auth, err := localauth.New("")
	require.NoError(t, err)
	f := &fixture{auth: auth, fns: map[string]*recorder{}, logBuf: &bytes.Buffer{}}
	handlers := map[string]HTTPHandler{}
	for _, r := range routes {
		if f.fns[r.Function] == nil {
			rec := &recorder{resp: events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"ok":true}`}}
			f.fns[r.Function] = rec
			handlers[r.Function] = rec.handle
		}
	}
	f.srv, err = New(Config{
		Routes: routes,
		HTTP:   handlers,
		Invoke: invoke,
		Auth:   auth,
		Logger: slog.New(slog.NewJSONHandler(&syncWriter{w: f.logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	return f
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (f *fixture) token(t *testing.T, role string) string {
	t.Helper()
	tok, err := f.auth.Issue(localauth.TokenRequest{Sub: "user-1", Tenant: "clinic-1", Role: role, Name: "Li"}, time.Hour)
	require.NoError(t, err)
	return tok
}

func (f *fixture) do(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, req)
	return w
}

func newRequest(method, target string, body io.Reader, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.Host = "127.0.0.1:3000"
	r.RemoteAddr = "192.0.2.10:54321"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

// testdataShape loads one of aws-lambda-go's sample API Gateway events as a
// generic map: the shape our events must have.
func testdataShape(t *testing.T, name string) map[string]any {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Skipf("cannot locate aws-lambda-go in the module cache: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// requireSameKeys checks that every key of got exists in want (no
// misspelled or invented fields) and that the wanted keys listed in must are
// present in got.
func requireSameKeys(t *testing.T, where string, want, got map[string]any, must ...string) {
	t.Helper()
	for k := range got {
		require.Contains(t, want, k, "%s: field %q is not in the AWS sample", where, k)
	}
	for _, k := range must {
		require.Contains(t, got, k, "%s: field %q missing", where, k)
	}
}

func TestEventShape(t *testing.T) {
	f := newFixture(t, testRoutes, nil)

	t.Run("protected route carries the JWT claims", func(t *testing.T) {
		req := newRequest("POST", "/v1/groups/g%201/join?a=1&a=2&b=x%20y", strings.NewReader(`{"seats":1}`),
			"Authorization", "Bearer "+f.token(t, "patient"),
			"Content-Type", "application/json",
			"User-Agent", "test-agent",
			"X-Multi", "one", "X-Multi", "two",
			"Cookie", "c1=v1; c2=v2",
			"Idempotency-Key", "k-1")
		w := f.do(req)
		require.Equal(t, 200, w.Code)
		require.Equal(t, `{"ok":true}`, w.Body.String())

		ev := f.fns["groupbuy"].last(t)
		require.True(t, f.fns["groupbuy"].ctxOK, "handler ctx carries a Lambda context and a deadline")
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(raw, &got))
		want := testdataShape(t, "apigw-v2-request-jwt-authorizer.json")
		requireSameKeys(t, "event", want, got, "version", "routeKey", "rawPath", "rawQueryString", "cookies",
			"headers", "queryStringParameters", "pathParameters", "requestContext", "body", "isBase64Encoded")
		gotRC, wantRC := got["requestContext"].(map[string]any), want["requestContext"].(map[string]any)
		requireSameKeys(t, "requestContext", wantRC, gotRC, "routeKey", "accountId", "stage", "requestId",
			"authorizer", "apiId", "domainName", "domainPrefix", "time", "timeEpoch", "http")
		requireSameKeys(t, "http", wantRC["http"].(map[string]any), gotRC["http"].(map[string]any),
			"method", "path", "protocol", "sourceIp", "userAgent")
		jwtGot := gotRC["authorizer"].(map[string]any)["jwt"].(map[string]any)
		requireSameKeys(t, "jwt", wantRC["authorizer"].(map[string]any)["jwt"].(map[string]any), jwtGot, "claims")
		require.NotContains(t, jwtGot, "scopes")

		// Decoded back through JSON, as the Lambda runtime would.
		var back events.APIGatewayV2HTTPRequest
		require.NoError(t, json.Unmarshal(raw, &back))
		require.Equal(t, "2.0", back.Version)
		require.Equal(t, "POST /v1/groups/{groupId}/join", back.RouteKey)
		require.Equal(t, "/v1/groups/g%201/join", back.RawPath)
		require.Equal(t, "a=1&a=2&b=x%20y", back.RawQueryString)
		require.Equal(t, []string{"c1=v1", "c2=v2"}, back.Cookies)
		require.Equal(t, map[string]string{"groupId": "g 1"}, back.PathParameters)
		require.Equal(t, map[string]string{"a": "1,2", "b": "x y"}, back.QueryStringParameters)
		require.Equal(t, "one,two", back.Headers["x-multi"])
		require.Equal(t, "application/json", back.Headers["content-type"])
		require.Equal(t, "k-1", back.Headers["idempotency-key"])
		require.Equal(t, "127.0.0.1:3000", back.Headers["host"])
		require.Equal(t, "192.0.2.10", back.Headers["x-forwarded-for"])
		require.NotContains(t, back.Headers, "cookie")
		for k := range back.Headers {
			require.Equal(t, strings.ToLower(k), k)
		}
		require.Equal(t, `{"seats":1}`, back.Body)
		require.False(t, back.IsBase64Encoded)

		rc := back.RequestContext
		require.Equal(t, "000000000000", rc.AccountID)
		require.Equal(t, "local", rc.APIID)
		require.Equal(t, "$default", rc.Stage)
		require.Equal(t, back.RouteKey, rc.RouteKey)
		require.Equal(t, "127.0.0.1:3000", rc.DomainName)
		require.Equal(t, "127.0.0.1", rc.DomainPrefix)
		_, err = uuid.Parse(rc.RequestID)
		require.NoError(t, err)
		require.Equal(t, rc.RequestID, w.Header().Get("Apigw-Requestid"))
		ts, err := time.Parse(requestTimeLayout, rc.Time)
		require.NoError(t, err)
		require.Equal(t, ts.Unix(), rc.TimeEpoch/1000)
		require.WithinDuration(t, time.Now(), time.UnixMilli(rc.TimeEpoch), time.Minute)
		require.Equal(t, events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method: "POST", Path: "/v1/groups/g%201/join", Protocol: "HTTP/1.1", SourceIP: "192.0.2.10", UserAgent: "test-agent",
		}, rc.HTTP)
		require.NotNil(t, rc.Authorizer)
		require.NotNil(t, rc.Authorizer.JWT)
		c := rc.Authorizer.JWT.Claims
		require.Equal(t, "user-1", c["sub"])
		require.Equal(t, "clinic-1", c["tenant"])
		require.Equal(t, "patient", c["role"])
		require.Equal(t, "Li", c["name"])
		require.Equal(t, localauth.DefaultIssuer, c["iss"])
		require.Regexp(t, `^\d+$`, c["exp"])
		require.Nil(t, rc.Authorizer.JWT.Scopes)
	})

	t.Run("public route has no authorizer even with a token", func(t *testing.T) {
		w := f.do(newRequest("GET", "/v1/r/ABC", nil, "Authorization", "Bearer "+f.token(t, "patient")))
		require.Equal(t, 200, w.Code)
		ev := f.fns["referral"].last(t)
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(raw, &got))
		// The no-authorizer sample is a $default route, so it has no
		// pathParameters; top-level fields are checked against the other one.
		want := testdataShape(t, "apigw-v2-request-no-authorizer.json")
		requireSameKeys(t, "event", testdataShape(t, "apigw-v2-request-jwt-authorizer.json"), got, "version", "routeKey", "rawPath", "rawQueryString", "headers", "requestContext", "isBase64Encoded")
		require.NotContains(t, got, "queryStringParameters", "nil when there is no query")
		require.NotContains(t, got, "cookies")
		require.NotContains(t, got, "body")
		gotRC := got["requestContext"].(map[string]any)
		requireSameKeys(t, "requestContext", want["requestContext"].(map[string]any), gotRC)
		require.NotContains(t, gotRC, "authorizer")
		require.Equal(t, map[string]string{"code": "ABC"}, ev.PathParameters)
		require.Equal(t, "GET /v1/r/{code}", ev.RouteKey)
	})
}

func TestBodyEncoding(t *testing.T) {
	f := newFixture(t, testRoutes, nil)
	binary := []byte{0xff, 0x00, 0xfe, 'a'}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		want        string
		wantB64     bool
	}{
		{"json as text", "application/json; charset=utf-8", []byte(`{"a":"中"}`), `{"a":"中"}`, false},
		{"text as text", "text/plain", []byte("hi"), "hi", false},
		{"vendor json as text", "application/vnd.api+json", []byte(`{}`), `{}`, false},
		{"no content type, utf-8", "", []byte("x=1"), "x=1", false},
		{"form as text", "application/x-www-form-urlencoded", []byte("a=1&b=2"), "a=1&b=2", false},
		{"image as base64", "image/png", []byte("png"), base64.StdEncoding.EncodeToString([]byte("png")), true},
		{"octet stream as base64", "application/octet-stream", binary, base64.StdEncoding.EncodeToString(binary), true},
		{"invalid utf-8 claimed as json", "application/json", binary, base64.StdEncoding.EncodeToString(binary), true},
		{"empty", "application/json", nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Authorization", "Bearer " + f.token(t, "patient")}
			if tc.contentType != "" {
				hdr = append(hdr, "Content-Type", tc.contentType)
			}
			w := f.do(newRequest("POST", "/v1/groups/g/join", bytes.NewReader(tc.body), hdr...))
			require.Equal(t, 200, w.Code)
			ev := f.fns["groupbuy"].last(t)
			require.Equal(t, tc.want, ev.Body)
			require.Equal(t, tc.wantB64, ev.IsBase64Encoded)
		})
	}
}

func TestAPIGatewayAnswers(t *testing.T) {
	routes := append([]Route{
		{Function: "errs", Method: "GET", Path: "/v1/err", Public: true},
		{Function: "panics", Method: "GET", Path: "/v1/panic", Public: true},
		{Function: "badb64", Method: "GET", Path: "/v1/badb64", Public: true},
	}, testRoutes...)
	f := newFixture(t, routes, nil)
	f.fns["errs"].err = errors.New("db down")
	f.fns["panics"].panics = true
	f.fns["badb64"].resp = events.APIGatewayV2HTTPResponse{Body: "***", IsBase64Encoded: true}
	other, err := localauth.New("")
	require.NoError(t, err)
	otherTok, err := other.Issue(localauth.TokenRequest{Sub: "u", Tenant: "t", Role: "admin"}, time.Hour)
	require.NoError(t, err)
	expired, err := f.auth.Issue(localauth.TokenRequest{Sub: "u", Tenant: "t", Role: "admin"}, time.Nanosecond)
	require.NoError(t, err)
	time.Sleep(time.Second) // exp has second resolution

	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantBody   string
		fn         string // function that must NOT have been called ("" = skip)
	}{
		{"no token", newRequest("POST", "/v1/groups/g/join", nil), 401, msgUnauthorized, "groupbuy"},
		{"token from another issuer key", newRequest("POST", "/v1/groups/g/join", nil, "Authorization", "Bearer "+otherTok), 401, msgUnauthorized, "groupbuy"},
		{"garbage token", newRequest("POST", "/v1/groups/g/join", nil, "Authorization", "Bearer abc.def.ghi"), 401, msgUnauthorized, "groupbuy"},
		{"wrong scheme", newRequest("POST", "/v1/groups/g/join", nil, "Authorization", "Basic dXNlcjpwdw=="), 401, msgUnauthorized, "groupbuy"},
		{"expired token", newRequest("POST", "/v1/groups/g/join", nil, "Authorization", "Bearer "+expired), 401, msgUnauthorized, "groupbuy"},
		{"protected greedy route without token", newRequest("DELETE", "/v1/admin/deals/d1", nil), 401, msgUnauthorized, "admin"},
		{"unknown route without $default", newRequest("GET", "/v2/nothing", nil), 404, msgNotFound, ""},
		{"handler error", newRequest("GET", "/v1/err", nil), 500, msgInternalError, ""},
		{"handler panic", newRequest("GET", "/v1/panic", nil), 500, msgInternalError, ""},
		{"bad base64 response", newRequest("GET", "/v1/badb64", nil), 500, msgInternalError, ""},
		{"body over 10 MiB", newRequest("POST", "/v1/groups/g/join", bytes.NewReader(make([]byte, MaxBodyBytes+1)),
			"Authorization", "Bearer "+f.token(t, "patient")), 413, msgTooLarge, "groupbuy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(tc.req)
			require.Equal(t, tc.wantStatus, w.Code)
			require.Equal(t, tc.wantBody, w.Body.String())
			require.Equal(t, "application/json", w.Header().Get("Content-Type"))
			if tc.fn != "" {
				require.Zero(t, f.fns[tc.fn].calls(), "the function must not run")
			}
		})
	}
	require.Contains(t, f.logBuf.String(), "panic: boom")

	// Exactly 10 MiB is still accepted.
	w := f.do(newRequest("POST", "/v1/groups/g/join", bytes.NewReader(make([]byte, MaxBodyBytes)),
		"Authorization", "Bearer "+f.token(t, "patient"), "Content-Type", "application/octet-stream"))
	require.Equal(t, 200, w.Code)

	// The access log names routes, never tokens or bodies.
	logs := f.logBuf.String()
	require.Contains(t, logs, `"routeKey":"POST /v1/groups/{groupId}/join"`)
	require.Contains(t, logs, `"status":401`)
	require.NotContains(t, logs, f.token(t, "patient")[:20])
	require.NotContains(t, logs, otherTok[:20])
}

func TestDefaultRoute(t *testing.T) {
	routes := append([]Route{{Function: "fallback", Method: "ANY", Path: "$default", Public: true}}, testRoutes...)
	f := newFixture(t, routes, nil)
	w := f.do(newRequest("PATCH", "/v9/whatever?x=1", nil))
	require.Equal(t, 200, w.Code)
	ev := f.fns["fallback"].last(t)
	require.Equal(t, "$default", ev.RouteKey)
	require.Equal(t, "$default", ev.RequestContext.RouteKey)
	require.Equal(t, "/v9/whatever", ev.RawPath)
	require.Nil(t, ev.PathParameters)
	require.Nil(t, ev.RequestContext.Authorizer)

	// A protected $default answers 401 to unknown routes without a token.
	routes[0].Public = false
	f = newFixture(t, routes, nil)
	w = f.do(newRequest("GET", "/v9/whatever", nil))
	require.Equal(t, 401, w.Code)
	require.Zero(t, f.fns["fallback"].calls())
}

func TestResponseMapping(t *testing.T) {
	f := newFixture(t, testRoutes, nil)
	tests := []struct {
		name       string
		resp       events.APIGatewayV2HTTPResponse
		wantStatus int
		wantBody   string
		check      func(t *testing.T, h http.Header)
	}{
		{
			name:       "status 0 is 200",
			resp:       events.APIGatewayV2HTTPResponse{Body: "x"},
			wantStatus: 200, wantBody: "x",
		},
		{
			name: "headers, multi-value headers and cookies",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode:        201,
				Headers:           map[string]string{"Content-Type": "application/json", "X-One": "1"},
				MultiValueHeaders: map[string][]string{"X-Many": {"a", "b"}},
				Cookies:           []string{"a=1; Path=/", "b=2"},
				Body:              `{"id":"1"}`,
			},
			wantStatus: 201, wantBody: `{"id":"1"}`,
			check: func(t *testing.T, h http.Header) {
				require.Equal(t, "application/json", h.Get("Content-Type"))
				require.Equal(t, "1", h.Get("X-One"))
				require.Equal(t, []string{"a", "b"}, h.Values("X-Many"))
				require.Equal(t, []string{"a=1; Path=/", "b=2"}, h.Values("Set-Cookie"))
				require.NotEmpty(t, h.Get("Apigw-Requestid"))
			},
		},
		{
			name:       "base64 body is decoded",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), IsBase64Encoded: true},
			wantStatus: 200, wantBody: string([]byte{1, 2, 3}),
		},
		{
			name:       "error status passes through",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 409, Body: `{"error":{"code":"GROUP_FULL"}}`},
			wantStatus: 409, wantBody: `{"error":{"code":"GROUP_FULL"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.fns["referral"].resp = tc.resp
			w := f.do(newRequest("GET", "/v1/r/x", nil))
			require.Equal(t, tc.wantStatus, w.Code)
			require.Equal(t, tc.wantBody, w.Body.String())
			if tc.check != nil {
				tc.check(t, w.Header())
			}
		})
	}
}

func decodeJSON(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	return m
}

func TestLocalToken(t *testing.T) {
	f := newFixture(t, testRoutes, nil)

	t.Run("round trip: issued token works on a protected route", func(t *testing.T) {
		w := f.do(newRequest("POST", "/_local/token", strings.NewReader(
			`{"sub":"u-9","tenant":"clinic-7","role":"staff","name":"Wang","phone_number":"+8613900000000"}`)))
		require.Equal(t, 200, w.Code, w.Body.String())
		tok, _ := decodeJSON(t, w)["token"].(string)
		require.NotEmpty(t, tok)

		w = f.do(newRequest("POST", "/v1/groups/g/join", nil, "Authorization", "Bearer "+tok))
		require.Equal(t, 200, w.Code)
		c := f.fns["groupbuy"].last(t).RequestContext.Authorizer.JWT.Claims
		require.Equal(t, "u-9", c["sub"])
		require.Equal(t, "clinic-7", c["tenant"])
		require.Equal(t, "staff", c["role"])
		require.Equal(t, "Wang", c["name"])
		require.Equal(t, "+8613900000000", c["phone_number"])
		require.Equal(t, localauth.DefaultAudience, c["aud"])
	})

	bad := []struct{ name, body string }{
		{"missing sub", `{"tenant":"t","role":"patient"}`},
		{"missing tenant", `{"sub":"s","role":"patient"}`},
		{"unknown role", `{"sub":"s","tenant":"t","role":"root"}`},
		{"missing role", `{"sub":"s","tenant":"t"}`},
		{"not json", `sub=s`},
		{"wrong type", `{"sub":1,"tenant":"t","role":"patient"}`},
		{"empty", ``},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(newRequest("POST", "/_local/token", strings.NewReader(tc.body)))
			require.Equal(t, 400, w.Code)
			m := decodeJSON(t, w)
			require.Equal(t, "BAD_REQUEST", m["error"].(map[string]any)["code"])
			require.NotEmpty(t, m["error"].(map[string]any)["message"])
			require.NotEmpty(t, m["requestId"])
		})
	}

	t.Run("jwks and discovery", func(t *testing.T) {
		w := f.do(newRequest("GET", "/_local/jwks.json", nil))
		require.Equal(t, 200, w.Code)
		keys := decodeJSON(t, w)["keys"].([]any)
		require.Equal(t, f.auth.KeyID(), keys[0].(map[string]any)["kid"])

		w = f.do(newRequest("GET", "/_local/.well-known/openid-configuration", nil))
		require.Equal(t, 200, w.Code)
		require.Equal(t, localauth.DefaultIssuer+"/jwks.json", decodeJSON(t, w)["jwks_uri"])
	})

	t.Run("unknown local route is never forwarded", func(t *testing.T) {
		routes := append([]Route{{Function: "fallback", Method: "ANY", Path: "$default", Public: true}}, testRoutes...)
		f := newFixture(t, routes, nil)
		for _, req := range []*http.Request{newRequest("GET", "/_local/token", nil), newRequest("GET", "/_local/nope", nil)} {
			w := f.do(req)
			require.Equal(t, 404, w.Code)
			require.Equal(t, "NOT_FOUND", decodeJSON(t, w)["error"].(map[string]any)["code"])
		}
		require.Zero(t, f.fns["fallback"].calls())
	})
}

func TestLocalInvoke(t *testing.T) {
	var got []string
	var mu sync.Mutex
	invoke := map[string]InvokeFunc{
		"closer": func(ctx context.Context, payload json.RawMessage) (any, error) {
			mu.Lock()
			got = append(got, string(payload))
			mu.Unlock()
			if _, ok := lambdacontext.FromContext(ctx); !ok {
				return nil, errors.New("no lambda context")
			}
			return map[string]int{"closed": 3}, nil
		},
		"failing": func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("table missing") },
		"panicky": func(context.Context, json.RawMessage) (any, error) { panic("oops") },
		"nil":     func(context.Context, json.RawMessage) (any, error) { return nil, nil },
	}
	f := newFixture(t, testRoutes, invoke)

	tests := []struct {
		name        string
		fn, body    string
		wantStatus  int
		wantBody    string // exact JSON, for successes
		wantCode    string // error code, for failures
		wantPayload string
	}{
		{name: "empty body is {}", fn: "closer", wantStatus: 200, wantBody: `{"closed":3}`, wantPayload: `{}`},
		{name: "body passed as is", fn: "closer", body: `{"detail":{}}`, wantStatus: 200, wantBody: `{"closed":3}`, wantPayload: `{"detail":{}}`},
		{name: "nil result", fn: "nil", wantStatus: 200, wantBody: `null`},
		{name: "unknown function", fn: "nope", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "function error", fn: "failing", wantStatus: 500, wantCode: "INTERNAL"},
		{name: "function panic", fn: "panicky", wantStatus: 500, wantCode: "INTERNAL"},
		{name: "payload not json", fn: "closer", body: `{`, wantStatus: 400, wantCode: "BAD_REQUEST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			w := f.do(newRequest("POST", "/_local/invoke/"+tc.fn, strings.NewReader(tc.body)))
			require.Equal(t, tc.wantStatus, w.Code, w.Body.String())
			if tc.wantCode != "" {
				m := decodeJSON(t, w)
				require.Equal(t, tc.wantCode, m["error"].(map[string]any)["code"])
				require.NotEmpty(t, m["requestId"])
				return
			}
			require.JSONEq(t, tc.wantBody, w.Body.String())
			if tc.wantPayload != "" {
				mu.Lock()
				require.Equal(t, []string{tc.wantPayload}, got)
				mu.Unlock()
			}
		})
	}
	require.Contains(t, f.logBuf.String(), "table missing")
}

func TestRunSchedule(t *testing.T) {
	var mu sync.Mutex
	var payloads []events.EventBridgeEvent
	calls := 0
	invoke := map[string]InvokeFunc{
		"closer": func(_ context.Context, payload json.RawMessage) (any, error) {
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(payload, &ev); err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			payloads = append(payloads, ev)
			calls++
			if calls == 1 {
				return nil, errors.New("first run fails") // the schedule must go on
			}
			return nil, nil
		},
	}
	f := newFixture(t, testRoutes, invoke)
	require.Error(t, f.srv.RunSchedule(context.Background(), "nope", time.Second))
	require.Error(t, f.srv.RunSchedule(context.Background(), "closer", 0))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.RunSchedule(ctx, "closer", 20*time.Millisecond) }()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls >= 3
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	mu.Lock()
	defer mu.Unlock()
	ev := payloads[0]
	require.Equal(t, "Scheduled Event", ev.DetailType)
	require.Equal(t, "aws.scheduler", ev.Source)
	require.Equal(t, "000000000000", ev.AccountID)
	require.Len(t, ev.Resources, 1)
	require.True(t, strings.HasSuffix(ev.Resources[0], ":schedule/default/closer"))
	require.NotEqual(t, payloads[0].ID, payloads[1].ID)
	require.Contains(t, f.logBuf.String(), "first run fails")
}

func TestServeShutsDownOnCancel(t *testing.T) {
	f := newFixture(t, testRoutes, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/v1/r/abc")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, `{"ok":true}`, string(body))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
