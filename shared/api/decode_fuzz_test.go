package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/logging"
)

// fuzzTenant is the clinic whose admin set up what the seeds name.
const fuzzTenant = "clinic-fuzz"

// writeRoute is a POST or PUT route of one function.
type writeRoute struct {
	fn  string
	key string
}

// decodeSeeds are a valid body per route, so the fuzzer starts from
// requests that reach the domain and the store; a route added later
// starts from {}.
var decodeSeeds = map[string]string{
	"PUT /v1/admin/coupon-templates/{templateId}": `{"title":"¥50 off","kind":"CASH","valueFen":5000,"validDays":30,"stock":100,"perUserLimit":1,"claimable":true}`,
	"PUT /v1/admin/deals/{dealId}":                `{"title":"闺蜜卡","sku":"F-1","priceFen":59900,"groupPriceFen":39900,"groupSize":2,"ttlSeconds":3600,"stock":100,"perUserLimit":1,"newcomersOnly":false}`,
	"PUT /v1/admin/hooks/{ruleId}":                `{"event":"referral.bound","issueCoupon":{"templateId":"welcome","to":"referrer"}}`,
	"PUT /v1/admin/settings":                      `{"bindingWindowDays":30,"holdDays":7,"monthlyCap":5}`,
	"POST /v1/coupons/claim":                      `{"templateId":"welcome"}`,
	"POST /v1/groups":                             `{"dealId":"duo"}`,
	"POST /v1/referral/bind":                      `{"code":"hx7k-2pq9r"}`,
	"POST /v1/staff/visits":                       `{"visitId":"v-1","userId":"u-1","kind":"treatment","amountFen":19900}`,
}

// FuzzDecode sends arbitrary bodies, path parameters, claims and
// Idempotency-Keys to every POST and PUT route of every HTTP function,
// through the whole handler against DynamoDB Local: bad input gets a 4xx
// with an error code, never a panic or a 5xx.
func FuzzDecode(f *testing.F) {
	db := ddbtest.New(f)
	deps := app.DepsWith(db.NewClient(f), config.Config{
		Table: db.Table, ShareBaseURL: "https://h5.example.com/s", MiniProgramPage: "/pages/landing/index", PhonePepper: "fuzz",
	}, logging.Discard())
	apis := map[string]lambdaAPI{"referral": Referral(deps), "coupons": Coupons(deps), "groupbuy": GroupBuy(deps), "admin": Admin(deps)}
	var routes []writeRoute
	for fn, a := range apis {
		for _, r := range a.Routes() {
			if strings.HasPrefix(r.Key, "POST ") || strings.HasPrefix(r.Key, "PUT ") {
				routes = append(routes, writeRoute{fn, r.Key})
			}
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].key < routes[j].key })

	send := func(tb testing.TB, route writeRoute, body string, b64 bool, role, tenant, name, param, key string) events.APIGatewayV2HTTPResponse {
		// The Lambda runtime decodes the event from JSON: every string
		// arrives as valid UTF-8; arbitrary bytes come base64-encoded.
		valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		if b64 {
			body = base64.StdEncoding.EncodeToString([]byte(body))
		} else {
			body = valid(body)
		}
		method, path, _ := strings.Cut(route.key, " ")
		params := map[string]string{}
		for _, p := range []string{"templateId", "dealId", "ruleId", "couponCode", "groupId", "visitId"} {
			if strings.Contains(path, "{"+p+"}") {
				params[p] = valid(param)
				path = strings.ReplaceAll(path, "{"+p+"}", valid(param))
			}
		}
		headers := map[string]string{"content-type": "application/json"}
		if key != "" {
			headers["idempotency-key"] = valid(key)
		}
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: route.key, RawPath: path, Headers: headers, PathParameters: params,
			Body: body, IsBase64Encoded: b64,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: route.key, RequestID: "fuzz",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "198.51.100.7"},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{
						"sub": "fuzzer", "tenant": valid(tenant), "role": valid(role), "name": valid(name), "phone_number": "+8613800138000",
					}},
				},
			},
		}
		resp, err := apis[route.fn].Handle(context.Background(), ev)
		if err != nil {
			tb.Fatalf("%s: Handle returned an error: %v", route.key, err)
		}
		return resp
	}

	// What the seeds name exists: a template, a deal.
	for _, setup := range []struct{ route, param string }{
		{"PUT /v1/admin/coupon-templates/{templateId}", "welcome"},
		{"PUT /v1/admin/deals/{dealId}", "duo"},
	} {
		resp := send(f, writeRoute{"admin", setup.route}, decodeSeeds[setup.route], false, "admin", fuzzTenant, "Boss", setup.param, "")
		if resp.StatusCode != http.StatusOK {
			f.Fatalf("setup %s: %d %s", setup.route, resp.StatusCode, resp.Body)
		}
	}

	for i, r := range routes {
		seed, ok := decodeSeeds[r.key]
		if !ok {
			seed = "{}"
		}
		f.Add(uint8(i), seed, false, "admin", fuzzTenant, "张三", "welcome", "")
		f.Add(uint8(i), seed, true, "staff", fuzzTenant, "Li", "HX7K2PQ9R", "retry-1")
		f.Add(uint8(i), `{"a":`+seed+`}`, false, "patient", "clinic-other", "", "", "k")
	}
	f.Add(uint8(0), `{"title":1e400}`, false, "admin", fuzzTenant, "", strings.Repeat("x", 200), "")
	f.Add(uint8(0), "\xff\xfe{", true, "nobody", "", "\x00", "../..", strings.Repeat("k", 300))

	f.Fuzz(func(t *testing.T, route uint8, body string, b64 bool, role, tenant, name, param, key string) {
		r := routes[int(route)%len(routes)]
		resp := send(t, r, body, b64, role, tenant, name, param, key)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s answered %d for body %q, param %q, role %q, tenant %q: %s", r.key, resp.StatusCode, body, param, role, tenant, resp.Body)
		}
		if resp.StatusCode == http.StatusNoContent {
			if resp.Body != "" {
				t.Fatalf("%s: 204 with a body: %q", r.key, resp.Body)
			}
			return
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatalf("%s: the body is not a JSON object: %q", r.key, resp.Body)
		}
		if resp.StatusCode >= 400 && resp.StatusCode != http.StatusUnauthorized {
			e, _ := out["error"].(map[string]any)
			if code, _ := e["code"].(string); code == "" {
				t.Fatalf("%s: %d without an error code: %s", r.key, resp.StatusCode, resp.Body)
			}
		}
	})
}
