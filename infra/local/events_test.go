package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/localauth"
	"github.com/laoyou/laoyou/infra/samtemplate"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/token"
)

// sampleCode is the referral code the samples in events/ use.
const sampleCode = "HX7K2PQ9R"

// TestSampleEvents keeps events/ true: every file decodes strictly into the
// event type its function receives, and the handler answers it as noted
// here. Files run in this order, on one table, so later samples see what
// earlier ones did (the bind before "me").
func TestSampleEvents(t *testing.T) {
	type sample struct {
		file   string
		status int                             // HTTP samples: the status
		check  func(t *testing.T, body string) // optional check of the body or result
		// A sample naming a thing the system makes (a coupon code, a room)
		// gets the one an earlier sample made: param is the path parameter,
		// filled from the field of that name in an earlier response.
		param string
		// mint replaces the body's WeChat code by a fresh one of the
		// stand-in: "login" (wx.login) or "phone" (the phone button).
		mint string
	}
	contains := func(parts ...string) func(*testing.T, string) {
		return func(t *testing.T, body string) {
			for _, p := range parts {
				require.Contains(t, body, p)
			}
		}
	}
	samples := []sample{
		{file: "admin/put-coupon-template.json", status: 200, check: contains(`"templateId":"welcome-100"`)},
		{file: "admin/put-voucher-template.json", status: 200, check: contains(`"kind":"VOUCHER"`)},
		{file: "admin/put-deal.json", status: 200, check: contains(`"dealId":"thermage-duo"`, `"remaining":200`)},
		{file: "admin/put-hook.json", status: 200, check: contains(`"secret":"****cret"`)},
		{file: "admin/list-hooks.json", status: 200, check: contains(`"ruleId":"notify-crm"`)},
		{file: "admin/dead-letters.json", status: 200},
		{file: "admin/put-wechat.json", status: 200, check: contains(`"secretSet":true`)},
		{file: "admin/get-wechat.json", status: 200, check: contains(`"appId":"`+DemoAppID+`"`, `"envVersion":"trial"`)},
		{file: "admin/grant-role.json", status: 200, check: contains(`"role":"staff"`)},
		{file: "auth/sign-in.json", status: 200, check: contains(`"token":"`, `"newUser":true`), mint: "login"},
		{file: "auth/openid-configuration.json", status: 200, check: contains(`"jwks_uri":"`)},
		{file: "auth/jwks.json", status: 200, check: contains(`"alg":"RS256"`)},
		{file: "auth/bind-phone.json", status: 200, check: contains(`"phone":"138****5678"`), mint: "phone"},
		{file: "coupons/list-templates.json", status: 200, check: contains(`"templateId":"welcome-100"`)},
		{file: "coupons/claim.json", status: 201, check: contains(`"status":"ISSUED"`)},
		{file: "coupons/me.json", status: 200, check: contains(`"templateId":"welcome-100"`)},
		{file: "coupons/redeem.json", status: 200, check: contains(`"status":"REDEEMED"`), param: "couponCode"},
		{file: "groupbuy/list-deals.json", status: 200, check: contains(`"dealId":"thermage-duo"`)},
		{file: "groupbuy/get-deal.json", status: 200, check: contains(`"groupSize":2`)},
		{file: "groupbuy/open-group.json", status: 201, check: contains(`"status":"OPEN"`, `"scene":"g=`)},
		{file: "groupbuy/get-group.json", status: 200, check: contains(`"displayName":"王*"`), param: "groupId"},
		{file: "groupbuy/group-image.json", status: 200, check: contains(`"contentType":"image/png"`), param: "groupId"},
		{file: "groupbuy/join-group.json", status: 200, check: contains(`"status":"SUCCEEDED"`), param: "groupId"},
		{file: "referral/create-code.json", status: 200, check: contains(`"code":"`+sampleCode+`"`, `"scene":"r=`+sampleCode+`"`)},
		{file: "referral/resolve-code.json", status: 200, check: contains(`"code":"`+sampleCode+`"`, `"displayName":"王*"`)},
		{file: "referral/open-code.json", status: 204},
		{file: "referral/bind.json", status: 200, check: contains(`"referrer":{"displayName":"王*"}`, `"boundAt":`)},
		{file: "referral/code-image.json", status: 200, check: contains(`"contentType":"image/png"`)},
		{file: "referral/me.json", status: 200, check: contains(`"bound":1`, `"stage":"BOUND"`)},
		{file: "referral/unknown-route.json", status: 404, check: contains(`"code":"NOT_FOUND"`)},
		{file: "closer/every-minute.json", status: 0, check: contains(`"settled":0`)},
		{file: "hooks/referral-bound.json", status: 0, check: func(t *testing.T, body string) {
			var resp events.DynamoDBEventResponse
			require.NoError(t, json.Unmarshal([]byte(body), &resp))
			require.Empty(t, resp.BatchItemFailures)
		}},
	}

	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "events", "*", "*.json"))
	require.NoError(t, err)
	var found, listed []string
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(root, "events"), f)
		found = append(found, filepath.ToSlash(rel))
	}
	for _, s := range samples {
		listed = append(listed, s.file)
	}
	sort.Strings(found)
	sort.Strings(listed)
	require.Equal(t, listed, found, "every file in events/ has an expectation here, and every expectation a file")

	d, stub := sampleDeps(t)
	fns := Functions(d)
	ctx := context.Background()
	made := map[string]string{} // what earlier samples' responses named
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(root, "events", s.file))
			require.NoError(t, err)
			var out any
			switch fn := strings.Split(s.file, "/")[0]; fn {
			case "closer":
				var ev events.EventBridgeEvent
				strictDecode(t, raw, &ev)
				out, err = fns.Scheduled["CloserFunction"](ctx, raw)
			case "hooks":
				var ev events.DynamoDBEvent
				strictDecode(t, raw, &ev)
				out, err = fns.Stream["HooksFunction"](ctx, ev)
			default:
				var ev events.APIGatewayV2HTTPRequest
				strictDecode(t, raw, &ev)
				if s.param != "" {
					require.NotEmpty(t, made[s.param], "no earlier sample made a %s", s.param)
					ev.RawPath = strings.ReplaceAll(ev.RawPath, ev.PathParameters[s.param], made[s.param])
					ev.PathParameters[s.param] = made[s.param]
				}
				if s.mint != "" {
					var body map[string]any
					require.NoError(t, json.Unmarshal([]byte(ev.Body), &body))
					body["code"] = stub.LoginCode(DemoAppID, "openid-sample", "")
					if s.mint == "phone" {
						body["code"] = stub.PhoneCode(DemoAppID, "13812345678")
					}
					b, _ := json.Marshal(body)
					ev.Body = string(b)
				}
				a := fns.APIs[functionOf(fn)]
				require.NotNil(t, a, "no function for %s", s.file)
				resp, herr := a.Handle(ctx, ev)
				require.NoError(t, herr)
				require.Equal(t, s.status, resp.StatusCode, resp.Body)
				out, err = json.RawMessage(resp.Body), nil
				if resp.IsBase64Encoded {
					raw, derr := base64.StdEncoding.DecodeString(resp.Body)
					require.NoError(t, derr)
					out = map[string]any{"contentType": resp.Headers["content-type"], "bytes": len(raw)}
				} else if resp.Body == "" {
					out = nil // 204: no body
				}
				var fields map[string]any
				_ = json.Unmarshal([]byte(resp.Body), &fields)
				for _, name := range []string{"couponCode", "groupId"} {
					if v, ok := fields[name].(string); ok {
						made[name] = v
					}
				}
			}
			require.NoError(t, err)
			body, err := json.Marshal(out)
			require.NoError(t, err)
			if s.check != nil {
				s.check(t, string(body))
			}
		})
	}
}

// functionOf is the logical id of the function in events/<name>/.
func functionOf(folder string) string {
	if folder == "groupbuy" {
		return "GroupBuyFunction"
	}
	return strings.ToUpper(folder[:1]) + folder[1:] + "Function"
}

// sampleDeps is a fresh table where the samples' referrer has sampleCode,
// and a WeChat stand-in that knows the samples' mini-program.
func sampleDeps(t *testing.T) (*app.Deps, *wechatstub.Server) {
	db := ddbtest.New(t)
	stub, err := wechatstub.Start(wechatstub.New())
	require.NoError(t, err)
	t.Cleanup(func() { _ = stub.Close() })
	stub.AddApp(DemoAppID, "app-secret-from-mp-admin")
	d := app.DepsWith(db.NewClient(t, dynamo.WithCallCounting), config.Config{
		Table: db.Table, ShareBaseURL: "https://h5.example.com/s", MiniProgramPage: "/pages/landing/index", PhonePepper: "p",
		WeChatAPIBase: stub.URL, IssuerURL: "https://abc123.execute-api.ap-east-1.amazonaws.com/prod", TokenAudience: "laoyou-miniprogram",
	}, logging.Discard())
	key, err := localauth.LoadOrCreateKey("")
	require.NoError(t, err)
	d.Tokens = token.KeySet{Current: token.NewRSAKey(key)}
	d.Secrets, err = secret.NewAESGCM(make([]byte, secret.KeySize))
	require.NoError(t, err)
	_, err = dynamo.ReferralStore{Store: d.Store}.SaveCode(context.Background(), referral.Code{
		Code: sampleCode, Tenant: DemoTenant, UserID: DemoReferrer, DisplayName: "王*", Role: auth.Patient, CreatedAt: time.Now(),
	})
	require.NoError(t, err)
	return d, stub
}

func strictDecode(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "the sample must have exactly the fields of %T", v)
}

func repoRoot(t *testing.T) string {
	path, err := samtemplate.FindPath()
	require.NoError(t, err)
	return filepath.Dir(path)
}
