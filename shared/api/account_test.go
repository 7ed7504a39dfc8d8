package api

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/token"
)

const (
	testAppID     = "wx0123456789abcdef"
	testAppSecret = "s3cr3t-of-the-clinic"
)

// withApp registers the tenant's mini-program with the stand-in and saves
// it through the admin API.
func (s *stack) withApp(tenant string) {
	s.t.Helper()
	s.wechat.AddApp(testAppID, testAppSecret)
	r := s.do(call{fn: "admin", route: "PUT /v1/admin/wechat", as: admin(tenant),
		body: `{"appId":"` + testAppID + `","appSecret":"` + testAppSecret + `"}`})
	require.Equal(s.t, 200, r.Status, r.Body)
}

func (s *stack) signIn(tenant, code string) reply {
	s.t.Helper()
	return s.do(call{fn: "auth", route: "POST /v1/auth/wechat", body: `{"tenant":"` + tenant + `","code":"` + code + `"}`})
}

// rawItem reads an item as stored.
func (s *stack) rawItem(pk, sk string) map[string]types.AttributeValue {
	s.t.Helper()
	out, err := s.deps.Store.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(s.deps.Store.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
	})
	require.NoError(s.t, err)
	return out.Item
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// claimsOf decodes a token's payload without verifying it.
func claimsOf(t *testing.T, jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestWeChatAppIsSavedSealedAndNeverReturned(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	r := s.do(call{fn: "admin", route: "GET /v1/admin/wechat", as: admin("c1")})
	require.Equal(t, 404, r.Status)
	require.Equal(t, "WECHAT_NOT_CONFIGURED", r.Code(t))

	r = s.do(call{fn: "admin", route: "PUT /v1/admin/wechat", as: admin("c1"),
		body: `{"appId":"` + testAppID + `","appSecret":"` + testAppSecret + `","envVersion":"trial"}`})
	require.Equal(t, 200, r.Status, r.Body)
	require.JSONEq(t, `{"appId":"`+testAppID+`","envVersion":"trial","secretSet":true}`, r.Body)

	r = s.do(call{fn: "admin", route: "GET /v1/admin/wechat", as: admin("c1")})
	require.Equal(t, 200, r.Status, r.Body)
	require.JSONEq(t, `{"appId":"`+testAppID+`","envVersion":"trial","secretSet":true}`, r.Body)
	require.NotContains(t, r.Body, testAppSecret)

	item := s.rawItem("T#c1", "WECHAT_APP")
	require.NotEmpty(t, item)
	for name, v := range item {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			require.NotContains(t, sv.Value, testAppSecret, "attribute %s holds the secret in plain text", name)
		}
	}
	// Another tenant's admin sees none of it.
	r = s.do(call{fn: "admin", route: "GET /v1/admin/wechat", as: admin("c2")})
	require.Equal(t, 404, r.Status)

	for name, body := range map[string]string{
		"no secret":       `{"appId":"` + testAppID + `"}`,
		"bad appId":       `{"appId":"not-an-app","appSecret":"x"}`,
		"bad env":         `{"appId":"` + testAppID + `","appSecret":"x","envVersion":"beta"}`,
		"secret as array": `{"appId":"` + testAppID + `","appSecret":["x"]}`,
		"unknown field":   `{"appId":"` + testAppID + `","appSecret":"x","token":"y"}`,
	} {
		r := s.do(call{fn: "admin", route: "PUT /v1/admin/wechat", as: admin("c1"), body: body})
		require.Equal(t, 400, r.Status, name)
		require.Equal(t, "BAD_REQUEST", r.Code(t), name)
	}
}

func TestSignInWithWeChat(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("c1")

	code := s.wechat.LoginCode(testAppID, "openid-alice", "")
	r := s.signIn("c1", code)
	require.Equal(t, 200, r.Status, r.Body)
	var first struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
		UserID    string    `json:"userId"`
		NewUser   bool      `json:"newUser"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &first))
	require.True(t, first.NewUser)
	require.NotContains(t, first.UserID, "openid-alice")
	require.NotContains(t, r.Body, "openid-alice", "the answer never carries the openid")
	require.WithinDuration(t, time.Now().Add(2*time.Hour), first.ExpiresAt, time.Minute)
	c := claimsOf(t, first.Token)
	require.Equal(t, first.UserID, c["sub"])
	require.Equal(t, "c1", c["tenant"])
	require.Equal(t, "patient", c["role"])
	require.Equal(t, testIssuer, c["iss"])
	require.Equal(t, testAudience, c["aud"])
	require.Equal(t, "openid-alice", str(s.rawItem("T#c1#U#"+first.UserID, "WXOPENID"), "openid"))

	// Warm: one WeChat call, one read (the role) and one write (the openid).
	before := s.wechat.Calls(wechatstub.Code2Session)
	r = s.signIn("c1", s.wechat.LoginCode(testAppID, "openid-alice", ""))
	require.Equal(t, 200, r.Status, r.Body)
	require.Equal(t, 1, s.wechat.Calls(wechatstub.Code2Session)-before)
	require.Equal(t, 1, r.Calls.Reads(), r.Calls.Ops())
	require.Equal(t, 1, r.Calls.Writes(), r.Calls.Ops())
	again := r.JSON(t)
	require.Equal(t, first.UserID, again["userId"], "the same WeChat user has the same id")
	require.Equal(t, false, again["newUser"])

	// The unionid, where WeChat gives one, is who the user is.
	u1 := s.signIn("c1", s.wechat.LoginCode(testAppID, "openid-bob", "union-bob")).JSON(t)["userId"]
	require.NotEqual(t, first.UserID, u1)
	// The same person in another clinic is another user there.
	s.withApp("c2")
	u2 := s.signIn("c2", s.wechat.LoginCode(testAppID, "openid-alice", "")).JSON(t)["userId"]
	require.NotEqual(t, first.UserID, u2)
}

func TestSignInErrors(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("c1")
	used := s.wechat.LoginCode(testAppID, "openid-used", "")
	require.Equal(t, 200, s.signIn("c1", used).Status)
	s.wechat.Block(testAppID, "openid-blocked")

	cases := []struct {
		name   string
		tenant string
		code   func() string
		fault  string
		status int
		code_  string
	}{
		{"used code", "c1", func() string { return used }, "", 422, "WECHAT_CODE_INVALID"},
		{"unknown code", "c1", func() string { return "0never-issued" }, "", 422, "WECHAT_CODE_INVALID"},
		{"code with spaces", "c1", func() string { return "a b" }, "", 422, "WECHAT_CODE_INVALID"},
		{"blocked user", "c1", func() string { return s.wechat.LoginCode(testAppID, "openid-blocked", "") }, "", 403, "WECHAT_USER_BLOCKED"},
		{"no mini-program", "nowhere", func() string { return s.wechat.LoginCode(testAppID, "openid-x", "") }, "", 404, "WECHAT_NOT_CONFIGURED"},
		{"WeChat busy", "c1", func() string { return s.wechat.LoginCode(testAppID, "openid-y", "") }, wechatstub.Busy, 503, "WECHAT_UNAVAILABLE"},
		{"WeChat failing", "c1", func() string { return s.wechat.LoginCode(testAppID, "openid-z", "") }, wechatstub.HTTP5xx, 503, "WECHAT_UNAVAILABLE"},
		{"bad tenant", "a b", func() string { return "x" }, "", 400, "BAD_REQUEST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.wechat.ClearFaults()
			if tc.fault != "" {
				s.wechat.Fail(wechatstub.Code2Session, tc.fault, 10)
			}
			body, _ := json.Marshal(map[string]string{"tenant": tc.tenant, "code": tc.code()})
			r := s.do(call{fn: "auth", route: "POST /v1/auth/wechat", body: string(body)})
			require.Equal(t, tc.status, r.Status, r.Body)
			require.Equal(t, tc.code_, r.Code(t))
		})
	}
	s.wechat.ClearFaults()
	for name, body := range map[string]string{
		"no code":     `{"tenant":"c1"}`,
		"no tenant":   `{"code":"x"}`,
		"code number": `{"tenant":"c1","code":1}`,
		"not json":    `tenant=c1`,
	} {
		r := s.do(call{fn: "auth", route: "POST /v1/auth/wechat", body: body})
		require.Equal(t, 400, r.Status, name)
		require.Equal(t, "BAD_REQUEST", r.Code(t), name)
	}
}

// A first sign-in raced by the same user's second (two taps, two codes) is
// new exactly once.
func TestConcurrentFirstSignInsAreNewOnce(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("c1")
	codes := make([]string, 8)
	for i := range codes {
		codes[i] = s.wechat.LoginCode(testAppID, "openid-racer", "")
	}
	replies := s.concurrently(len(codes), func(i int) call {
		return call{fn: "auth", route: "POST /v1/auth/wechat", body: `{"tenant":"c1","code":"` + codes[i] + `"}`}
	})
	news, ids := 0, map[any]bool{}
	for _, r := range replies {
		require.Equal(t, 200, r.Status, r.Body)
		m := r.JSON(t)
		ids[m["userId"]] = true
		if m["newUser"] == true {
			news++
		}
	}
	require.Equal(t, 1, news)
	require.Len(t, ids, 1)
}

func TestGrantedRoleIsInTheNextSignIn(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("c1")
	user := s.signIn("c1", s.wechat.LoginCode(testAppID, "openid-desk", "")).JSON(t)["userId"].(string)

	for _, role := range []string{"staff", "admin", "patient"} {
		r := s.do(call{fn: "admin", route: "PUT /v1/admin/roles/{userId}", params: map[string]string{"userId": user}, as: admin("c1"),
			body: `{"role":"` + role + `"}`})
		require.Equal(t, 200, r.Status, r.Body)
		require.JSONEq(t, `{"userId":"`+user+`","role":"`+role+`"}`, r.Body)
		require.Equal(t, role, str(s.rawItem("T#c1#U#"+user, "ROLE"), "role"))
		tok := s.signIn("c1", s.wechat.LoginCode(testAppID, "openid-desk", "")).JSON(t)["token"].(string)
		require.Equal(t, role, claimsOf(t, tok)["role"])
	}
	// A grant in one clinic is nothing in another.
	s.withApp("c2")
	tok := s.signIn("c2", s.wechat.LoginCode(testAppID, "openid-desk", "")).JSON(t)["token"].(string)
	require.Equal(t, "patient", claimsOf(t, tok)["role"])

	for name, body := range map[string]string{"unknown role": `{"role":"owner"}`, "no role": `{}`} {
		r := s.do(call{fn: "admin", route: "PUT /v1/admin/roles/{userId}", params: map[string]string{"userId": user}, as: admin("c1"), body: body})
		require.Equal(t, 400, r.Status, name)
	}
	r := s.do(call{fn: "admin", route: "PUT /v1/admin/roles/{userId}", params: map[string]string{"userId": "a b"}, as: admin("c1"), body: `{"role":"staff"}`})
	require.Equal(t, 400, r.Status)
}

// The token verifies with a real JWT library exactly as API Gateway's JWT
// authorizer verifies it: discovery document → jwks_uri → the key of the
// token's kid → RS256, iss, aud, exp.
func TestTokenVerifiesThroughTheDiscoveryDocument(t *testing.T) {
	var auth lambdaAPI
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: r.Method + " " + r.URL.Path, RawPath: r.URL.Path}
		ev.RequestContext.RequestID = uuid.NewString()
		ev.RequestContext.HTTP.Method = r.Method
		resp, err := auth.Handle(r.Context(), ev)
		require.NoError(t, err)
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	}))
	defer srv.Close()
	s := newStackWith(t, func(c *config.Config) { c.IssuerURL = srv.URL }, ddbtest.WithoutStream())
	auth = s.apis["auth"]
	s.withApp("c1")
	signed := s.signIn("c1", s.wechat.LoginCode(testAppID, "openid-v", "")).JSON(t)

	get := func(url string, out any) http.Header {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
		return resp.Header
	}
	var disc token.Discovery
	h := get(srv.URL+"/.well-known/openid-configuration", &disc)
	require.Equal(t, srv.URL, disc.Issuer)
	require.Contains(t, h.Get("Cache-Control"), "max-age")
	var set token.JWKS
	h = get(disc.JWKSURI, &set)
	require.Contains(t, h.Get("Cache-Control"), "public")

	keyOf := func(tok *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == tok.Header["kid"] {
				n, _ := base64.RawURLEncoding.DecodeString(k.N)
				e, _ := base64.RawURLEncoding.DecodeString(k.E)
				return jwtRSAKey(n, e), nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	}
	parse := func(raw string, aud string) (jwt.MapClaims, error) {
		claims := jwt.MapClaims{}
		_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(disc.Issuer),
			jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithIssuedAt()).ParseWithClaims(raw, claims, keyOf)
		return claims, err
	}
	claims, err := parse(signed["token"].(string), testAudience)
	require.NoError(t, err)
	require.Equal(t, signed["userId"], claims["sub"])

	_, err = parse(signed["token"].(string), "someone-else")
	require.Error(t, err, "another audience")
	parts := strings.Split(signed["token"].(string), ".")
	_, err = parse(parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString([]byte("forged")), testAudience)
	require.Error(t, err, "a bad signature")
}

func TestBindPhone(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("c1")
	alice := patient("c1", "alice")

	r := s.do(call{fn: "auth", route: "POST /v1/me/phone", as: alice, body: `{"code":"` + s.wechat.PhoneCode(testAppID, "13812345678") + `"}`})
	require.Equal(t, 200, r.Status, r.Body)
	require.JSONEq(t, `{"phone":"138****5678"}`, r.Body)
	profile := s.rawItem("T#c1#U#alice", "PROFILE")
	require.Equal(t, "138****5678", str(profile, "phoneMasked"))
	require.Len(t, str(profile, "phoneHash"), 64)
	for name, v := range profile {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			require.NotContains(t, sv.Value, "12345678", "attribute %s holds the number", name)
		}
	}

	used := s.wechat.PhoneCode(testAppID, "13900000000")
	require.Equal(t, 200, s.do(call{fn: "auth", route: "POST /v1/me/phone", as: alice, body: `{"code":"` + used + `"}`}).Status)
	cases := []struct {
		name   string
		body   string
		fault  string
		as     who
		status int
		code   string
	}{
		{"used code", `{"code":"` + used + `"}`, "", alice, 422, "WECHAT_CODE_INVALID"},
		{"unknown code", `{"code":"never-issued"}`, "", alice, 422, "WECHAT_CODE_INVALID"},
		{"WeChat busy", `{"code":"` + s.wechat.PhoneCode(testAppID, "13900000001") + `"}`, wechatstub.Busy, alice, 503, "WECHAT_UNAVAILABLE"},
		{"no mini-program", `{"code":"x"}`, "", patient("c9", "bob"), 404, "WECHAT_NOT_CONFIGURED"},
		{"no code", `{}`, "", alice, 400, "BAD_REQUEST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.wechat.ClearFaults()
			if tc.fault != "" {
				s.wechat.Fail(wechatstub.PhoneNumber, tc.fault, 10)
			}
			r := s.do(call{fn: "auth", route: "POST /v1/me/phone", as: tc.as, body: tc.body})
			require.Equal(t, tc.status, r.Status, r.Body)
			require.Equal(t, tc.code, r.Code(t))
		})
	}
}

// Two accounts that bound the same number through WeChat are one person to
// the referral rules, whichever bound it first and whether the code came
// before the number or after.
func TestSamePhoneBoundThroughWeChatIsSelfReferral(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("c1")
	bindPhone := func(w who, number string) {
		r := s.do(call{fn: "auth", route: "POST /v1/me/phone", as: w, body: `{"code":"` + s.wechat.PhoneCode(testAppID, number) + `"}`})
		require.Equal(t, 200, r.Status, r.Body)
	}
	codeOf := func(w who) string {
		r := s.do(call{fn: "referral", route: "POST /v1/referral/code", as: w})
		require.Equal(t, 200, r.Status, r.Body)
		return r.JSON(t)["code"].(string)
	}
	bind := func(w who, code string) reply {
		return s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: w, body: `{"code":"` + code + `"}`})
	}

	// The referrer's code first, their number after.
	a1, a2 := patient("c1", "a1"), patient("c1", "a2")
	code := codeOf(a1)
	bindPhone(a1, "13800000001")
	bindPhone(a2, "+86 138 0000 0001")
	r := bind(a2, code)
	require.Equal(t, 422, r.Status, r.Body)
	require.Equal(t, "SELF_REFERRAL", r.Code(t))

	// The number first, the code after.
	b1, b2 := patient("c1", "b1"), patient("c1", "b2")
	bindPhone(b1, "13800000002")
	code = codeOf(b1)
	bindPhone(b2, "13800000002")
	r = bind(b2, code)
	require.Equal(t, 422, r.Status, r.Body)
	require.Equal(t, "SELF_REFERRAL", r.Code(t))
	require.Equal(t, 1, r.Calls.Reads(), "the bind's one read, phone included: %v", r.Calls.Ops())

	// Another number binds.
	c2 := patient("c1", "c2")
	bindPhone(c2, "13800000003")
	r = bind(c2, code)
	require.Equal(t, 200, r.Status, r.Body)
}

func jwtRSAKey(n, e []byte) *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}
