package local

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/token"
)

// The mini-program's way in, through the runner as a client sees it: sign
// in with a wx.login code of the WeChat stand-in, verify the token as API
// Gateway does (discovery → jwks_uri → kid, RS256, iss, aud, exp) with a
// real JWT library, then use it on protected routes.
func TestSignInThroughTheRunner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	db := ddbtest.New(t)
	cfg := config.Config{
		Table: db.Table, Endpoint: db.Endpoint, Region: "us-east-1",
		ShareBaseURL: base + "/s", MiniProgramPage: "/pages/landing/index", PhonePepper: "test-pepper",
		IssuerURL: base,
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := Start(ctx, Options{Config: cfg, Demo: true, Log: logging.Discard(), WeChatAddr: "127.0.0.1:0", StreamInterval: time.Hour})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- st.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		st.Close()
	})
	r := &running{t: t, url: base, stack: st}
	require.Equal(t, DemoAppID, st.Demo.AppID, "the demo clinic has its mini-program")

	signIn := func(openID string) response {
		code := st.WeChat.LoginCode(DemoAppID, openID, "")
		return r.send(http.MethodPost, "/v1/auth/wechat", "", `{"tenant":"`+DemoTenant+`","code":"`+code+`"}`)
	}
	res := signIn("openid-lucy")
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	tok := res.Body["token"].(string)

	var disc token.Discovery
	res = r.send(http.MethodGet, "/.well-known/openid-configuration", "", "")
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	require.NoError(t, json.Unmarshal([]byte(res.Raw), &disc))
	require.Equal(t, base, disc.Issuer)
	require.True(t, strings.HasPrefix(disc.JWKSURI, base+"/"))
	var set token.JWKS
	res = r.send(http.MethodGet, strings.TrimPrefix(disc.JWKSURI, base), "", "")
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	require.NoError(t, json.Unmarshal([]byte(res.Raw), &set))
	claims := jwt.MapClaims{}
	_, err = jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(disc.Issuer),
		jwt.WithAudience(st.Auth.Audience), jwt.WithExpirationRequired()).ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == t.Header["kid"] {
				n, _ := base64.RawURLEncoding.DecodeString(k.N)
				e, _ := base64.RawURLEncoding.DecodeString(k.E)
				return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	})
	require.NoError(t, err)
	require.Equal(t, DemoTenant, claims["tenant"])

	// The runner's authorizer accepts it on protected routes, as API
	// Gateway's would.
	res = r.send(http.MethodPost, "/v1/referral/code", tok, "")
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	res = r.send(http.MethodPost, "/v1/me/phone", tok, `{"code":"`+st.WeChat.PhoneCode(DemoAppID, "13812345678")+`"}`,
		"Content-Type", "application/json")
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	require.Equal(t, "138****5678", res.Body["phone"])
	parts := strings.Split(tok, ".")
	res = r.send(http.MethodPost, "/v1/referral/code", parts[0]+"."+parts[1]+".AAAA", "")
	require.Equal(t, http.StatusUnauthorized, res.Status)
	require.JSONEq(t, `{"message":"Unauthorized"}`, res.Raw)

	// An admin's grant shows in the next sign-in; an admin token of the
	// runner's own issuer grants it.
	user := claims["sub"].(string)
	res = r.send(http.MethodPut, "/v1/admin/roles/"+user, r.token("ops-amy", DemoTenant, "admin"), `{"role":"staff"}`)
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	res = signIn("openid-lucy")
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	staffTok := res.Body["token"].(string)
	res = r.send(http.MethodGet, "/v1/admin/stats", staffTok, "")
	require.Equal(t, http.StatusForbidden, res.Status, "staff is not admin")
	res = r.send(http.MethodPost, "/v1/staff/visits", staffTok, `{"visitId":"v-1","userId":"someone","kind":"arrival"}`)
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
}
