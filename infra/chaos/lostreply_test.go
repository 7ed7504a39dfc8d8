package chaos

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/token"
)

// TestLostReplyOfIdempotencyClaim: the write that records an
// Idempotency-Key (a coupon claim's transaction, which holds the key's
// record; a share link's open, which is its key's record) commits, its
// reply is lost, and the SDK sends it again within the same invocation, as
// it does after a connection reset. A repeat that fails its condition on
// the request's own record must know it for its own (the record's token)
// and answer what it did, not replay it as another request's.
// TestRetryAfterLostCommit is the client's retry, in a new invocation.
func TestLostReplyOfIdempotencyClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		write   string // the call whose reply is lost
		prepare func(setup func(request) outcome) request
		want    int
	}{
		{"claim", "TransactWriteItems", func(func(request) outcome) request {
			return request{fn: "coupons", route: "POST /v1/coupons/claim", body: `{"templateId":"gift"}`, as: patientOf(clinic, "bob")}
		}, http.StatusCreated},
		{"link open", "PutItem", func(setup func(request) outcome) request {
			code := setup(request{fn: "referral", route: "POST /v1/referral/code", as: patientOf(clinic, "alice")}).json()["code"].(string)
			return request{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": code}}
		}, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := ddbtest.New(t)
			faults := New(1, Rates{}).Only(tt.write).AtMost(1)
			sys := newSystem(db.Endpoint, db.Table, db.NewClient(t, faults.Option, FastRetries(2)), db.Client)
			calm := newSystem(db.Endpoint, db.Table, db.Client, db.Client)
			setUp(t, calm)
			calmClient := &client{sys: calm, maxAttempts: 1, log: &ledger{}}
			req := tt.prepare(func(r request) outcome {
				o := calmClient.do(context.Background(), "setup", r)
				require.True(t, o.ok(), "%s: %d %s", r.route, o.status, o.body)
				return o
			})

			faults.SetRates(Rates{CommittedReset: 1})
			resp := sys.invoke(context.Background(), req, "tap-1")
			require.Equal(t, int64(1), faults.Stats().Injected[CommittedReset], "the write's reply was lost once")
			require.Equal(t, tt.want, resp.StatusCode, resp.Body)
			require.Empty(t, resp.Headers["idempotent-replayed"], "the request's own write, not an earlier request's answer")
		})
	}
}

// lostWrite names the write whose reply is lost in a case of
// TestRetryAfterLostCommit, where it is not a TransactWriteItems.
var lostWrite = map[string]string{"link open": "PutItem"}

// TestRetryAfterLostCommit: a request's write commits, the function's
// call times out before the reply, it answers 5xx, and the client retries
// with the same Idempotency-Key. The retry should answer what was done,
// and do nothing twice.
func TestRetryAfterLostCommit(t *testing.T) {
	t.Parallel()
	type fixture struct {
		t     *testing.T
		sys   *system
		setup func(request) outcome // a request made without faults
	}
	tests := []struct {
		name    string
		prepare func(f fixture) request
		want    int
	}{
		{"referral code", func(f fixture) request {
			return request{fn: "referral", route: "POST /v1/referral/code", as: patientOf(clinic, "alice")}
		}, http.StatusOK},
		{"bind", func(f fixture) request {
			code := f.setup(request{fn: "referral", route: "POST /v1/referral/code", as: patientOf(clinic, "alice")}).json()["code"]
			return request{fn: "referral", route: "POST /v1/referral/bind", body: fmt.Sprintf(`{"code":%q}`, code), as: patientOf(clinic, "bob")}
		}, http.StatusOK},
		{"visit", func(f fixture) request {
			return request{fn: "referral", route: visitsRoute, body: `{"visitId":"v-1","userId":"bob","kind":"treatment","amountFen":19900}`, as: staffOf(clinic, "desk0")}
		}, http.StatusOK},
		{"claim", func(f fixture) request {
			return request{fn: "coupons", route: "POST /v1/coupons/claim", body: `{"templateId":"gift"}`, as: patientOf(clinic, "bob")}
		}, http.StatusCreated},
		{"redeem", func(f fixture) request {
			code := f.setup(request{fn: "coupons", route: "POST /v1/coupons/claim", body: `{"templateId":"welcome"}`, as: patientOf(clinic, "bob")}).json()["couponCode"].(string)
			return request{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": code}, as: staffOf(clinic, "desk0")}
		}, http.StatusOK},
		{"open", func(f fixture) request {
			return request{fn: "groupbuy", route: "POST /v1/groups", body: `{"dealId":"duo"}`, as: patientOf(clinic, "alice")}
		}, http.StatusCreated},
		{"join", func(f fixture) request {
			id := f.setup(request{fn: "groupbuy", route: "POST /v1/groups", body: `{"dealId":"trio"}`, as: patientOf(clinic, "alice")}).json()["groupId"].(string)
			return request{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", params: map[string]string{"groupId": id}, as: patientOf(clinic, "bob")}
		}, http.StatusOK},
		{"link open", func(f fixture) request {
			code := f.setup(request{fn: "referral", route: "POST /v1/referral/code", as: patientOf(clinic, "alice")}).json()["code"].(string)
			return request{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": code}}
		}, http.StatusNoContent},
		{"refund", func(f fixture) request {
			f.setup(request{fn: "referral", route: visitsRoute, body: `{"visitId":"v-2","userId":"bob","kind":"treatment","amountFen":19900}`, as: staffOf(clinic, "desk0")})
			return request{fn: "referral", route: "POST /v1/staff/visits/{visitId}/refund", params: map[string]string{"visitId": "v-2"}, as: staffOf(clinic, "desk0")}
		}, http.StatusOK},
		{"settings", func(f fixture) request {
			return request{fn: "admin", route: "PUT /v1/admin/settings", body: `{"bindingWindowDays":14}`, as: adminOf(clinic)}
		}, http.StatusOK},
		{"deal", func(f fixture) request {
			return request{fn: "admin", route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": "quad"}, as: adminOf(clinic),
				body: `{"title":"四人卡","sku":"FACIAL-4","priceFen":59900,"groupPriceFen":29900,"groupSize":4,"ttlSeconds":60,"stock":40,"perUserLimit":1,"newcomersOnly":false}`}
		}, http.StatusOK},
		{"coupon template", func(f fixture) request {
			return request{fn: "admin", route: "PUT /v1/admin/coupon-templates/{templateId}", params: map[string]string{"templateId": "spring"}, as: adminOf(clinic),
				body: `{"title":"¥30 off","kind":"CASH","valueFen":3000,"validDays":30,"stock":50,"perUserLimit":1,"claimable":true}`}
		}, http.StatusOK},
		{"hook rule", func(f fixture) request {
			return request{fn: "admin", route: "PUT /v1/admin/hooks/{ruleId}", params: map[string]string{"ruleId": "gift-on-join"}, as: adminOf(clinic),
				body: `{"event":"group.joined","issueCoupon":{"templateId":"gift","to":"user"}}`}
		}, http.StatusOK},
		{"wechat app", func(f fixture) request {
			return request{fn: "admin", route: "PUT /v1/admin/wechat", body: `{"appId":"wx0123456789abcdef","appSecret":"s3cr3t"}`, as: adminOf(clinic)}
		}, http.StatusOK},
		{"role", func(f fixture) request {
			return request{fn: "admin", route: "PUT /v1/admin/roles/{userId}", params: map[string]string{"userId": "carol"}, body: `{"role":"staff"}`, as: adminOf(clinic)}
		}, http.StatusOK},
		{"sign-in", func(f fixture) request {
			code := withWeChat(f.t, f.sys).LoginCode(chaosAppID, "openid-dora", "")
			return request{fn: "auth", route: "POST /v1/auth/wechat", body: fmt.Sprintf(`{"tenant":%q,"code":%q}`, clinic, code)}
		}, http.StatusOK},
		{"phone", func(f fixture) request {
			code := withWeChat(f.t, f.sys).PhoneCode(chaosAppID, "13812345678")
			return request{fn: "auth", route: "POST /v1/me/phone", body: fmt.Sprintf(`{"code":%q}`, code), as: patientOf(clinic, "bob")}
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // a table and faults of its own
			db := ddbtest.New(t)
			faults := New(1, Rates{}).Only(cmp.Or(lostWrite[tt.name], "TransactWriteItems"))
			sys := newSystem(db.Endpoint, db.Table, db.NewClient(t, faults.Option, FastRetries(2)), db.Client)
			// The fault loses the write's reply; an invocation deadline
			// met first on a loaded machine (a read before the write taking
			// seconds) would fail the request before its write is sent.
			sys.timeout = time.Minute
			calm := newSystem(db.Endpoint, db.Table, db.Client, db.Client)
			setUp(t, calm)
			calmClient := &client{sys: calm, maxAttempts: 1, log: &ledger{}}
			req := tt.prepare(fixture{t: t, sys: sys, setup: func(r request) outcome {
				o := calmClient.do(context.Background(), "setup", r)
				require.True(t, o.ok(), "%s: %d %s", r.route, o.status, o.body)
				return o
			}})
			before, err := Scan(context.Background(), db.Client, db.Table)
			require.NoError(t, err)

			faults.SetRates(Rates{CommittedTimeout: 1})
			first := sys.invoke(context.Background(), req, "tap-1")
			require.GreaterOrEqual(t, first.StatusCode, 500, "the write committed, its reply was lost: %s", first.Body)
			require.Equal(t, int64(1), faults.Stats().Injected[CommittedTimeout], "the write was sent, and its reply lost; the first answer: %d %s", first.StatusCode, first.Body)
			faults.SetRates(Rates{})
			retry := sys.invoke(context.Background(), req, "tap-1")

			after, err := Scan(context.Background(), db.Client, db.Table)
			require.NoError(t, err)
			require.Empty(t, after.Check(Settled{}), "whatever the answer, the invariants hold")
			again := len(after.Coupons) - len(before.Coupons) + len(after.Rooms) - len(before.Rooms)
			require.Equal(t, tt.want, retry.StatusCode, retry.Body)
			require.LessOrEqual(t, again, 1, "one request, one effect")
			require.Equal(t, "true", retry.Headers["idempotent-replayed"],
				"the key's record was written with the write: the retry replays it")
		})
	}
}

const chaosAppID = "wx0123456789abcdef"

// withWeChat gives sys what the routes that spend a WeChat code need: a
// WeChat stand-in, a token key, the auth function and the clinic's
// mini-program, saved through the admin API before any fault.
func withWeChat(t *testing.T, sys *system) *wechatstub.Stub {
	t.Helper()
	stub := wechatstub.New()
	srv, err := wechatstub.Start(stub)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	stub.AddApp(chaosAppID, "s3cr3t")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	// The auth function's own Deps: the WeChat client is made with the
	// base it is first used with. Same client, clock and sealing key.
	cfg := sys.deps.Config
	cfg.WeChatAPIBase, cfg.IssuerURL, cfg.TokenAudience = srv.URL, "https://api.example.com/chaos", "laoyou-chaos"
	d := app.DepsWith(sys.deps.Store.DB, cfg, functionLog())
	d.Now, d.Secrets = sys.deps.Now, sys.deps.Secrets
	d.Tokens = token.KeySet{Current: token.NewRSAKey(key)}
	sys.http["auth"] = api.Auth(d)
	saved := sys.invoke(context.Background(), request{fn: "admin", route: "PUT /v1/admin/wechat",
		body: fmt.Sprintf(`{"appId":%q,"appSecret":"s3cr3t"}`, chaosAppID), as: adminOf(clinic)}, "")
	require.Equal(t, http.StatusOK, saved.StatusCode, saved.Body)
	return stub
}
