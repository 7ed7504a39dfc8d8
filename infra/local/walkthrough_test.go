package local

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The README's walk-through writes and invokes the closer at once: the
// closer must see what the hooks function makes of those writes, without
// waiting for the stream's next poll.
func TestInvokedCloserSeesTheStreamSoFar(t *testing.T) {
	r := startStackWith(t, func(o *Options, _ net.Listener) {
		o.StreamInterval = time.Hour // only the start-up poll and the drain deliver
	})
	demo := r.stack.Demo
	admin := r.token("ops-amy", demo.Tenant, "admin")
	staff := r.token("desk-li", demo.Tenant, "staff")
	for _, put := range []struct{ path, body string }{
		{"/v1/admin/settings", `{"newcomerOffer":{"title":"新客到院礼"},"holdDays":0,"monthlyCap":10}`},
		{"/v1/admin/coupon-templates/thanks-200", `{"title":"感谢券","kind":"CASH","valueFen":20000,"stock":0,"perUserLimit":1,"claimable":false,"validDays":90}`},
		{"/v1/admin/hooks/thank-referrer", `{"event":"referral.qualified","issueCoupon":{"templateId":"thanks-200","to":"referrer"}}`},
		{"/v1/admin/hooks/welcome-referee", `{"event":"referral.qualified","issueCoupon":{"templateId":"welcome-100","to":"referee"}}`},
	} {
		res := r.send(http.MethodPut, put.path, admin, put.body)
		require.Equal(t, http.StatusOK, res.Status, put.path+": "+res.Raw)
	}
	jing := r.token("newcomer-jing", demo.Tenant, "patient")
	bind := r.send(http.MethodPost, "/v1/referral/bind", jing, `{"code":"`+demo.ReferralCode+`"}`)
	require.Equal(t, http.StatusOK, bind.Status, bind.Raw)
	visit := r.send(http.MethodPost, "/v1/staff/visits", staff, `{"visitId":"HIS-1","userId":"newcomer-jing","kind":"arrival"}`)
	require.Equal(t, http.StatusOK, visit.Status, visit.Raw)

	closer := r.send(http.MethodPost, "/_local/invoke/closer", "", "")
	require.Equal(t, http.StatusOK, closer.Status, closer.Raw)
	require.Equal(t, float64(2), closer.Body["released"], closer.Raw)

	coupons := r.send(http.MethodGet, "/v1/coupons/me", jing, "")
	require.Equal(t, http.StatusOK, coupons.Status, coupons.Raw)
	require.Contains(t, coupons.Raw, `"templateId":"welcome-100"`)
	require.NotContains(t, coupons.Raw, `"status":"PENDING"`, "the closer released the reward")
}

// A runner on another port hands out links and tokens of that port.
func TestPublicBaseURLFollowsTheListener(t *testing.T) {
	var base string
	r := startStackWith(t, func(o *Options, ln net.Listener) {
		base = BaseURL(ln.Addr())
		o.PublicBaseURL = base
		o.Config.ShareBaseURL = ""
	})
	require.Equal(t, r.url, base)
	require.NotEqual(t, "http://127.0.0.1:3000", base)
	demo := r.stack.Demo

	referrer := r.token(demo.Referrer, demo.Tenant, "patient")
	code := r.send(http.MethodPost, "/v1/referral/code", referrer, "")
	require.Equal(t, http.StatusOK, code.Status, code.Raw)
	require.Equal(t, base+"/s?r="+demo.ReferralCode+"&t="+demo.Tenant, code.Body["shareUrl"])

	group := r.send(http.MethodPost, "/v1/groups", referrer, `{"dealId":"thermage-duo"}`)
	require.Equal(t, http.StatusCreated, group.Status, group.Raw)
	require.Equal(t, base+"/s?g="+group.Body["groupId"].(string)+"&t="+demo.Tenant, group.Body["shareUrl"])

	oidc := r.send(http.MethodGet, "/_local/.well-known/openid-configuration", "", "")
	require.Equal(t, http.StatusOK, oidc.Status, oidc.Raw)
	require.Equal(t, base+"/_local", oidc.Body["issuer"])
	require.Equal(t, base+"/_local/jwks.json", oidc.Body["jwks_uri"])
	jwks := r.send(http.MethodGet, strings.TrimPrefix(oidc.Body["jwks_uri"].(string), base), "", "")
	require.Equal(t, http.StatusOK, jwks.Status, jwks.Raw)

	parts := strings.Split(referrer, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, base+"/_local", claims["iss"])
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"127.0.0.1:3001", "http://127.0.0.1:3001"},
		{"0.0.0.0:3002", "http://127.0.0.1:3002"},
		{"[::]:3003", "http://127.0.0.1:3003"},
		{"[::1]:3004", "http://[::1]:3004"},
	}
	for _, tc := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tc.listen)
		require.NoError(t, err)
		require.Equal(t, tc.want, BaseURL(addr), tc.listen)
	}
}
