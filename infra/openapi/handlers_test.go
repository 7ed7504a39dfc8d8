package openapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/clock"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/tenant"
	"github.com/laoyou/laoyou/shared/token"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// The clinics of the flows. clinicB has no settings, so its landing page
// offers nothing.
const (
	clinicA = "clinic-a"
	clinicB = "clinic-b"
)

// contract runs requests through the real handlers, as API Gateway hands
// them over, and holds every answer to the spec.
type contract struct {
	t *testing.T // the test or subtest running the flow
	*stack
}

// stack is what the flows share.
type stack struct {
	spec   *Spec
	deps   *app.Deps
	clock  *clock.Settable
	routes map[string]*httpapi.API // route key → the function serving it

	mu   sync.Mutex
	seen map[string]map[int]int // route → status → answers validated

	wechat *wechatstub.Server // the WeChat stand-in the auth function calls
}

// on is the contract for a subtest, so its failures end the subtest.
func (c *contract) on(t *testing.T) *contract { return &contract{t: t, stack: c.stack} }

// flow runs f as a subtest.
func (c *contract) flow(name string, f func(c *contract)) {
	c.t.Run(name, func(t *testing.T) { f(c.on(t)) })
}

func newContract(t *testing.T) *contract {
	t.Helper()
	db := ddbtest.New(t)
	cfg := config.Config{
		Table:           db.Table,
		ShareBaseURL:    "https://h5.example-clinic.cn/s",
		MiniProgramPage: "/pages/landing/index",
		PhonePepper:     "test-pepper",
	}
	stub, err := wechatstub.Start(wechatstub.New())
	require.NoError(t, err)
	t.Cleanup(func() { _ = stub.Close() })
	cfg.WeChatAPIBase = stub.URL
	cfg.IssuerURL, cfg.TokenAudience = "https://api.example-clinic.cn/prod", "laoyou-contract"
	deps := app.DepsWith(db.NewClient(t), cfg, logging.Discard())
	signing, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	deps.Tokens = token.KeySet{Current: token.NewRSAKey(signing)}
	deps.Secrets, err = secret.NewAESGCM(make([]byte, secret.KeySize))
	require.NoError(t, err)
	c := &contract{t: t, stack: &stack{
		spec: loadSpec(t), deps: deps,
		clock:  clock.At(time.Now().UTC().Truncate(time.Second)),
		routes: map[string]*httpapi.API{},
		seen:   map[string]map[int]int{},
		wechat: stub,
	}}
	deps.Now = c.clock.Now // before the functions are built: some keep it
	for _, fn := range []*httpapi.API{api.Referral(deps), api.Coupons(deps), api.GroupBuy(deps), api.Admin(deps), api.Auth(deps)} {
		for _, r := range fn.Routes() {
			c.routes[r.Key] = fn
		}
	}
	return c
}

// who is a token's claims; nil is no token.
type who map[string]string

func patient(tenant, user string) who {
	return who{"sub": user, "tenant": tenant, "role": "patient", "name": "Lucy " + user}
}
func staff(tenant string) who { return who{"sub": "desk-1", "tenant": tenant, "role": "staff"} }
func admin(tenant string) who { return who{"sub": "admin-1", "tenant": tenant, "role": "admin"} }

type request struct {
	route   string // "POST /v1/groups/{groupId}/join"
	params  map[string]string
	query   map[string]string
	body    string
	as      who
	headers map[string]string
}

type answer struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (a answer) code() string {
	e, _ := a.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// do sends r to the function serving its route and checks the answer
// against the spec: the status is one the operation lists, and the body
// matches that status's schema. A successful request's body must match the
// operation's request schema too, so the spec never asks clients for a
// shape the handlers would refuse.
func (c *contract) do(r request) answer {
	t := c.t
	t.Helper()
	fn, ok := c.routes[r.route]
	require.True(t, ok, "no function serves %s", r.route)
	method, path, _ := strings.Cut(r.route, " ")
	for k, v := range r.params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	headers := map[string]string{"content-type": "application/json"}
	for k, v := range r.headers {
		headers[strings.ToLower(k)] = v
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: r.route, RawPath: path, Headers: headers,
		QueryStringParameters: r.query, PathParameters: r.params, Body: r.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: r.route, RequestID: uuid.NewString(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.7"},
		},
	}
	if r.as != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: r.as},
		}
	}
	resp, err := fn.Handle(context.Background(), ev)
	require.NoError(t, err)
	out := answer{Status: resp.StatusCode, Raw: resp.Body}

	op, ok := c.spec.Operation(r.route)
	require.True(t, ok, "openapi.yaml has no operation %s", r.route)
	schema, listed, err := c.spec.ResponseSchema(op, resp.StatusCode)
	require.NoError(t, err)
	require.True(t, listed, "%s answered %d, which openapi.yaml does not list: %s", r.route, resp.StatusCode, resp.Body)
	if resp.IsBase64Encoded {
		require.Nil(t, schema, "%s answered bytes where openapi.yaml lists JSON", r.route)
		require.Contains(t, c.spec.ContentTypes(op, resp.StatusCode), resp.Headers["content-type"], r.route)
		raw, err := base64.StdEncoding.DecodeString(resp.Body)
		require.NoError(t, err, r.route)
		require.NotEmpty(t, raw, r.route)
		c.saw(r.route, resp.StatusCode)
		return out
	}
	if resp.StatusCode == http.StatusNoContent {
		require.Empty(t, resp.Body, "%s answered 204 with a body", r.route)
	} else {
		var body any
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &body), "%s: %s", r.route, resp.Body)
		require.NoError(t, c.spec.Validate(schema, body), "%s answered %d: %s", r.route, resp.StatusCode, resp.Body)
		out.Body, _ = body.(map[string]any)
	}

	if resp.StatusCode < 300 && r.body != "" {
		reqSchema, err := c.spec.RequestSchema(op)
		require.NoError(t, err)
		require.NotNil(t, reqSchema, "%s took a body the spec does not describe", r.route)
		var sent any
		require.NoError(t, json.Unmarshal([]byte(r.body), &sent))
		require.NoError(t, c.spec.Validate(reqSchema, sent), "%s accepted a body its request schema refuses: %s", r.route, r.body)
	}

	c.saw(r.route, resp.StatusCode)
	return out
}

// saw counts an answer validated.
func (c *contract) saw(route string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[route] == nil {
		c.seen[route] = map[int]int{}
	}
	c.seen[route][status]++
}

// expect sends r and requires the status and, for an error, the code.
func (c *contract) expect(status int, code string, r request) answer {
	c.t.Helper()
	a := c.do(r)
	require.Equal(c.t, status, a.Status, "%s: %s", r.route, a.Raw)
	require.Equal(c.t, code, a.code(), "%s: %s", r.route, a.Raw)
	return a
}

func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHandlersAnswerAsTheSpecSays runs the referral, coupon, group-buy and
// admin flows, errors included, through the handlers and validates every
// answer. At the end every deployed route must have had a success checked.
func TestHandlersAnswerAsTheSpecSays(t *testing.T) {
	c := newContract(t)
	ctx := context.Background()
	err := dynamo.SettingsStore{Store: c.deps.Store}.SaveSettings(ctx, clinicA, tenant.Settings{
		Clinic:        &tenant.Clinic{Name: "悦颜医疗美容门诊部", Address: "上海市静安区南京西路1266号", Phone: "021-6288 0000"},
		NewcomerOffer: &tenant.Offer{Title: "新客到院礼：免费皮肤检测一次", TemplateID: "newcomer-gift"},
	})
	require.NoError(t, err)

	// In order: visits qualify the bindings of the referral flow, and the
	// settings name the coupon flow's templates.
	c.flow("referral", (*contract).referralFlow)
	c.flow("visits", (*contract).visitFlow)
	c.flow("coupons", (*contract).couponFlow)
	c.flow("settings", (*contract).settingsFlow)
	c.flow("group-buy", (*contract).groupBuyFlow)
	c.flow("hooks", (*contract).hookFlow)
	c.flow("stats", (*contract).statsFlow)
	c.flow("idempotency", (*contract).idempotencyFlow)
	c.flow("accounts", (*contract).accountFlow)
	t.Run("unknown route", func(t *testing.T) {
		fn := c.routes["GET /v1/r/{code}"]
		resp, err := fn.Handle(ctx, events.APIGatewayV2HTTPRequest{RouteKey: "$default", RawPath: "/v1/nope"})
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		var body any
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
		require.NoError(t, c.spec.Validate(map[string]any{"$ref": "#/components/schemas/Error"}, body), resp.Body)
		require.Contains(t, resp.Body, `"NOT_FOUND"`)
	})

	var missing []string
	for route := range templateRoutes(t) {
		ok := false
		for status := range c.seen[route] {
			ok = ok || status < 300
		}
		if !ok {
			missing = append(missing, route)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "deployed routes whose success was never checked against the spec")

	var report []string
	for route, statuses := range c.seen {
		report = append(report, fmt.Sprintf("%s %v", route, statuses))
	}
	sort.Strings(report)
	t.Logf("answers validated (route map[status:count]):\n%s", strings.Join(report, "\n"))
}

func (c *contract) referralFlow() {
	t := c.t
	alice, bob, carol := patient(clinicA, "alice"), patient(clinicA, "bob"), patient(clinicA, "carol")
	code := func(as who) string {
		a := c.expect(200, "", request{route: "POST /v1/referral/code", as: as})
		return a.Body["code"].(string)
	}
	aliceCode := code(alice)
	require.Equal(t, aliceCode, code(alice), "the same code on every call")
	c.expect(422, "REFERRER_NOT_ELIGIBLE", request{route: "POST /v1/referral/code", as: staff(clinicA)})
	c.expect(401, "", request{route: "POST /v1/referral/code"})
	c.expect(400, "BAD_REQUEST", request{route: "POST /v1/referral/code", as: alice,
		headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}})

	landing := c.expect(200, "", request{route: "GET /v1/r/{code}", params: map[string]string{"code": strings.ToLower(aliceCode)}})
	require.NotNil(t, landing.Body["newcomerOffer"])
	require.Equal(t, "悦颜医疗美容门诊部", landing.Body["clinic"].(map[string]any)["name"])
	c.expect(204, "", request{route: "POST /v1/r/{code}/open", params: map[string]string{"code": aliceCode}})
	c.expect(204, "", request{route: "POST /v1/r/{code}/open", params: map[string]string{"code": "ZZZZZZZZZ"}})
	other := code(patient(clinicB, "zoe"))
	landing = c.expect(200, "", request{route: "GET /v1/r/{code}", params: map[string]string{"code": other}})
	require.Nil(t, landing.Body["newcomerOffer"], "a clinic without settings offers nothing")
	require.Nil(t, landing.Body["clinic"], "and has no profile")
	c.expect(404, "CODE_NOT_FOUND", request{route: "GET /v1/r/{code}", params: map[string]string{"code": "NOPE"}})

	bind := func(status int, errCode string, as who, code string) answer {
		return c.expect(status, errCode, request{route: "POST /v1/referral/bind", as: as, body: jsonBody(map[string]string{"code": code})})
	}
	bind(200, "", bob, aliceCode)
	bind(200, "", bob, aliceCode) // again: the same answer
	bind(422, "SELF_REFERRAL", alice, aliceCode)
	bind(409, "ALREADY_BOUND", bob, code(carol))
	bind(422, "REFERRER_NOT_ELIGIBLE", alice, code(bob)) // bob was brought by alice
	bind(422, "NOT_A_NEW_PATIENT", staff(clinicA), aliceCode)
	bind(404, "CODE_NOT_FOUND", carol, "ZZZZZZZZZ")
	bind(404, "CODE_NOT_FOUND", carol, other) // another clinic's code
	for _, body := range []string{"", "[]", `{"code":`, `{"code":7}`, `{"code":"X","extra":1}`, `{}`} {
		c.expect(400, "BAD_REQUEST", request{route: "POST /v1/referral/bind", as: carol, body: body})
	}
	c.expect(413, "PAYLOAD_TOO_LARGE", request{route: "POST /v1/referral/bind", as: carol,
		body: jsonBody(map[string]string{"code": strings.Repeat("x", 70<<10)})})
	c.expect(403, "FORBIDDEN", request{route: "POST /v1/referral/bind", as: who{"sub": "x", "tenant": clinicA, "role": "visitor"},
		body: jsonBody(map[string]string{"code": aliceCode})})

	mine := c.expect(200, "", request{route: "GET /v1/referral/me", as: alice})
	require.Len(t, mine.Body["referrals"], 1)
	mine = c.expect(200, "", request{route: "GET /v1/referral/me", as: patient(clinicA, "dave")})
	require.Nil(t, mine.Body["code"], "no code yet: null")
	c.expect(401, "", request{route: "GET /v1/referral/me"})
}

func (c *contract) visitFlow() {
	t := c.t
	visit := func(status int, errCode string, as who, body map[string]any) answer {
		return c.expect(status, errCode, request{route: "POST /v1/staff/visits", as: as, body: jsonBody(body)})
	}
	first := map[string]any{"visitId": "his-1001", "userId": "bob", "kind": "treatment", "amountFen": 399900}
	v := visit(200, "", staff(clinicA), first)
	require.Equal(t, map[string]any{"stage": "QUALIFIED"}, v.Body["referral"], "bob was bound to alice")
	require.Equal(t, v.Raw, visit(200, "", staff(clinicA), first).Raw, "a repeat of the visit answers the same")
	v = visit(200, "", admin(clinicA), map[string]any{"visitId": "his-1002", "userId": "walk-in", "kind": "arrival"})
	require.Nil(t, v.Body["referral"], "no referral: null")
	visit(400, "BAD_REQUEST", staff(clinicA), map[string]any{"visitId": "his-1003", "userId": "bob", "kind": "massage"})
	visit(400, "BAD_REQUEST", staff(clinicA), map[string]any{"visitId": "his-1003", "kind": "arrival"})
	visit(403, "FORBIDDEN", patient(clinicA, "bob"), first)

	// The walk-in has a recorded visit now: no longer a newcomer.
	aliceCode := c.expect(200, "", request{route: "POST /v1/referral/code", as: patient(clinicA, "alice")}).Body["code"].(string)
	c.expect(422, "NOT_A_NEW_PATIENT", request{route: "POST /v1/referral/bind", as: patient(clinicA, "walk-in"),
		body: jsonBody(map[string]string{"code": aliceCode})})

	refund := func(status int, errCode string, as who, id string) answer {
		return c.expect(status, errCode, request{route: "POST /v1/staff/visits/{visitId}/refund", as: as, params: map[string]string{"visitId": id}})
	}
	r := refund(200, "", staff(clinicA), "his-1001")
	require.Equal(t, "his-1001", r.Body["visitId"])
	require.Equal(t, r.Raw, refund(200, "", staff(clinicA), "his-1001").Raw, "a repeat answers the first refund")
	refund(404, "VISIT_NOT_FOUND", staff(clinicA), "his-9999")
	refund(404, "VISIT_NOT_FOUND", staff(clinicA), "not a visit id")
	refund(404, "VISIT_NOT_FOUND", staff(clinicB), "his-1002")
	refund(403, "FORBIDDEN", patient(clinicA, "bob"), "his-1001")

	mine := c.expect(200, "", request{route: "GET /v1/referral/me", as: patient(clinicA, "alice")})
	stages := []string{}
	for _, f := range mine.Body["referrals"].([]any) {
		stages = append(stages, f.(map[string]any)["stage"].(string))
	}
	require.Equal(t, []string{"REVERSED"}, stages)
}

func (c *contract) settingsFlow() {
	t := c.t
	get := c.expect(200, "", request{route: "GET /v1/admin/settings", as: admin(clinicB)})
	require.Nil(t, get.Body["newcomerOffer"])
	require.EqualValues(t, 7, get.Body["holdDays"], "defaults spelled out")

	put := func(status int, errCode string, as who, body map[string]any) answer {
		return c.expect(status, errCode, request{route: "PUT /v1/admin/settings", as: as, body: jsonBody(body)})
	}
	settings := map[string]any{
		"clinic":            map[string]any{"name": "悦颜医疗美容门诊部", "address": "上海市静安区南京西路1266号", "phone": "021-6288 0000"},
		"newcomerOffer":     map[string]any{"title": "新客到院礼：免费皮肤检测一次", "templateId": "newcomer-gift"},
		"bindingWindowDays": 30, "holdDays": 7, "monthlyCap": 10,
		"milestones": []any{map[string]any{"count": 3, "templateId": "thermage"}},
	}
	put(200, "", admin(clinicA), settings)
	put(200, "", admin(clinicB), map[string]any{"holdDays": 0})
	put(404, "TEMPLATE_NOT_FOUND", admin(clinicA), map[string]any{"milestones": []any{map[string]any{"count": 3, "templateId": "no-such"}}})
	put(400, "BAD_REQUEST", admin(clinicA), map[string]any{"holdDays": 91})
	put(400, "BAD_REQUEST", admin(clinicA), map[string]any{"holdDay": 3})
	put(400, "BAD_REQUEST", admin(clinicA), map[string]any{"clinic": map[string]any{"address": "no name"}})
	put(403, "FORBIDDEN", staff(clinicA), settings)
	get = c.expect(200, "", request{route: "GET /v1/admin/settings", as: admin(clinicA)})
	require.Len(t, get.Body["milestones"], 1)
	c.expect(403, "FORBIDDEN", request{route: "GET /v1/admin/settings", as: patient(clinicA, "amy")})
}

func (c *contract) statsFlow() {
	t := c.t
	// What the hooks function counts from the stream, given by hand: the
	// stream does not run here.
	now := c.clock.Now()
	err := (&hook.Stats{Store: dynamo.StatsStore{Store: c.deps.Store}}).Count(context.Background(), []event.Event{
		event.New(event.ReferralQualified, clinicA, now, map[string]any{"referrerId": "alice", "refereeId": "bob"}),
		event.New(event.GroupOpened, clinicA, now, map[string]any{"dealId": "duo"}),
		event.New(event.GroupJoined, clinicA, now, map[string]any{"dealId": "duo"}),
	})
	require.NoError(t, err)
	stats := c.expect(200, "", request{route: "GET /v1/admin/stats", as: admin(clinicA)})
	require.NotEmpty(t, stats.Body["deals"])
	require.NotEmpty(t, stats.Body["topReferrers"])
	c.expect(200, "", request{route: "GET /v1/admin/stats", as: admin(clinicB)})
	c.expect(403, "FORBIDDEN", request{route: "GET /v1/admin/stats", as: staff(clinicA)})
}

// couponTemplates are the coupon flow's templates by id; now places the
// fixed validity window.
func couponTemplates(now time.Time) map[string]map[string]any {
	return map[string]map[string]any{
		"welcome-100":   {"title": "新客立减100元", "kind": "CASH", "valueFen": 10000, "minSpendFen": 50000, "validDays": 30, "stock": 500, "perUserLimit": 1, "claimable": true},
		"newcomer-gift": {"title": "上门礼：免费皮肤检测", "kind": "GIFT", "validDays": 30, "stock": 0, "perUserLimit": 1, "claimable": false},
		"last-one":      {"title": "限量1张", "kind": "CASH", "valueFen": 5000, "validDays": 1, "stock": 1, "perUserLimit": 1, "claimable": true},
		"summer-20": {"title": "夏季8折", "kind": "PERCENT", "percentOff": 20, "maxOffFen": 50000, "stock": 0, "perUserLimit": 2, "claimable": true,
			"validFrom": now.Add(-time.Hour).Format(time.RFC3339), "validTo": now.Add(90 * 24 * time.Hour).Format(time.RFC3339)},
		"thermage": {"title": "热玛吉全脸体验券", "kind": "VOUCHER", "valueFen": 399900, "validDays": 60, "stock": 0, "perUserLimit": 1, "claimable": false},
	}
}

func (c *contract) couponFlow() {
	t := c.t
	templates := couponTemplates(c.clock.Now())
	ids := make([]string, 0, len(templates))
	for id := range templates {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	put := func(status int, errCode string, as who, id string, body map[string]any) answer {
		return c.expect(status, errCode, request{route: "PUT /v1/admin/coupon-templates/{templateId}",
			params: map[string]string{"templateId": id}, as: as, body: jsonBody(body)})
	}
	for _, id := range ids {
		put(200, "", admin(clinicA), id, templates[id])
	}
	put(403, "FORBIDDEN", staff(clinicA), "welcome-100", templates["welcome-100"])
	put(400, "BAD_REQUEST", admin(clinicA), "broken", map[string]any{"title": "x", "kind": "CASH"})

	list := c.expect(200, "", request{route: "GET /v1/coupon-templates", query: map[string]string{"tenant": clinicA}})
	require.NotEmpty(t, list.Body["templates"])
	c.expect(400, "BAD_REQUEST", request{route: "GET /v1/coupon-templates"})

	claim := func(status int, errCode string, as who, id string) answer {
		return c.expect(status, errCode, request{route: "POST /v1/coupons/claim", as: as, body: jsonBody(map[string]string{"templateId": id})})
	}
	amy, ben := patient(clinicA, "amy"), patient(clinicA, "ben")
	welcome := claim(201, "", amy, "welcome-100").Body["couponCode"].(string)
	claim(409, "LIMIT_REACHED", amy, "welcome-100")
	claim(201, "", amy, "summer-20")
	lastOne := claim(201, "", amy, "last-one").Body["couponCode"].(string)
	claim(409, "OUT_OF_STOCK", ben, "last-one")
	claim(422, "NOT_CLAIMABLE", ben, "newcomer-gift")
	claim(404, "TEMPLATE_NOT_FOUND", ben, "no-such-template")
	c.expect(400, "BAD_REQUEST", request{route: "POST /v1/coupons/claim", as: ben, body: `{"templateId":""}`})

	// A reward on hold, as a qualified referral issues it.
	pending := share.NewCode(share.CouponCodeLen)
	issued := c.clock.Now().UTC().Truncate(time.Millisecond)
	conflict, err := dynamo.CouponStore{Store: c.deps.Store}.Issue(context.Background(), coupon.Issue{
		Coupon: coupon.Coupon{
			Code: pending, Tenant: clinicA, UserID: "amy", TemplateID: "thermage", Title: "热玛吉全脸体验券", Kind: coupon.Voucher,
			PriceFen: 359900, Status: coupon.Pending, ValidFrom: issued, ValidTo: issued.Add(60 * 24 * time.Hour),
			Source: coupon.FromReferral, IssuedAt: issued,
		},
		Shard: -1,
		Event: event.New(event.CouponIssued, clinicA, issued, map[string]any{"couponCode": pending}),
	})
	require.NoError(t, err)
	require.Nil(t, conflict)

	mine := c.expect(200, "", request{route: "GET /v1/coupons/me", as: amy})
	require.Len(t, mine.Body["coupons"], 4)

	redeem := func(status int, errCode string, as who, code string) answer {
		return c.expect(status, errCode, request{route: "POST /v1/staff/coupons/{couponCode}/redeem",
			params: map[string]string{"couponCode": code}, as: as})
	}
	redeem(200, "", staff(clinicA), welcome)
	redeem(409, "ALREADY_REDEEMED", staff(clinicA), welcome)
	redeem(409, "COUPON_NOT_ACTIVE", staff(clinicA), pending)
	redeem(404, "COUPON_NOT_FOUND", staff(clinicA), "ZZZZZZZZZZ")
	redeem(404, "COUPON_NOT_FOUND", staff(clinicB), lastOne)
	redeem(403, "FORBIDDEN", amy, lastOne)
	c.clock.Advance(2 * 24 * time.Hour) // last-one is valid for a day
	redeem(410, "COUPON_EXPIRED", staff(clinicA), lastOne)
	mine = c.expect(200, "", request{route: "GET /v1/coupons/me", as: amy})
	statuses := map[string]bool{}
	for _, x := range mine.Body["coupons"].([]any) {
		statuses[x.(map[string]any)["status"].(string)] = true
	}
	require.Equal(t, map[string]bool{"REDEEMED": true, "ISSUED": true, "EXPIRED": true, "PENDING": true}, statuses)
}

func dealBody(kv map[string]any) map[string]any {
	d := map[string]any{
		"title": "闺蜜卡·热玛吉双人体验", "sku": "THERMAGE-FACE", "priceFen": 599900, "groupPriceFen": 399900,
		"groupSize": 2, "ttlSeconds": 3600, "stock": 200, "perUserLimit": 1, "newcomersOnly": false,
	}
	for k, v := range kv {
		d[k] = v
	}
	return d
}

func (c *contract) groupBuyFlow() {
	t := c.t
	now := c.clock.Now()
	put := func(status int, errCode string, as who, id string, body map[string]any) answer {
		return c.expect(status, errCode, request{route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": id},
			as: as, body: jsonBody(body)})
	}
	put(200, "", admin(clinicA), "duo", dealBody(map[string]any{"leaderPriceFen": 359900, "voucherTemplateId": "thermage",
		"minSize": 2, "endsAt": now.Add(30 * 24 * time.Hour).Format(time.RFC3339)}))
	put(200, "", admin(clinicA), "later", dealBody(map[string]any{"startsAt": now.Add(24 * time.Hour).Format(time.RFC3339)}))
	put(200, "", admin(clinicA), "none-left", dealBody(map[string]any{"stock": 0}))
	put(200, "", admin(clinicA), "quick", dealBody(map[string]any{"ttlSeconds": 60}))
	put(200, "", admin(clinicA), "newcomers", dealBody(map[string]any{"newcomersOnly": true}))
	put(400, "BAD_REQUEST", admin(clinicA), "bad", dealBody(map[string]any{"groupSize": 1}))
	put(403, "FORBIDDEN", patient(clinicA, "amy"), "duo", dealBody(nil))

	tenantQ := map[string]string{"tenant": clinicA}
	list := c.expect(200, "", request{route: "GET /v1/deals", query: tenantQ})
	require.NotEmpty(t, list.Body["deals"])
	c.expect(400, "BAD_REQUEST", request{route: "GET /v1/deals"})
	c.expect(200, "", request{route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "duo"}, query: tenantQ})
	c.expect(404, "DEAL_NOT_FOUND", request{route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "nope"}, query: tenantQ})
	c.expect(400, "BAD_REQUEST", request{route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "duo"}})

	open := func(status int, errCode string, as who, deal string) answer {
		return c.expect(status, errCode, request{route: "POST /v1/groups", as: as, body: jsonBody(map[string]string{"dealId": deal})})
	}
	lily, mia, noa := patient(clinicA, "lily"), patient(clinicA, "mia"), patient(clinicA, "noa")
	room := open(201, "", lily, "duo").Body["groupId"].(string)
	open(409, "LIMIT_REACHED", lily, "duo")
	open(409, "DEAL_NOT_ACTIVE", mia, "later")
	open(409, "SOLD_OUT", mia, "none-left")
	open(404, "DEAL_NOT_FOUND", mia, "nope")
	c.expect(400, "BAD_REQUEST", request{route: "POST /v1/groups", as: mia, body: `{"dealId":1}`})

	status := func(id string) answer {
		return c.expect(200, "", request{route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": id}})
	}
	view := status(room)
	require.Equal(t, "OPEN", view.Body["status"])
	c.expect(404, "GROUP_NOT_FOUND", request{route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": "NOPE"}})

	join := func(status int, errCode string, as who, id string) answer {
		return c.expect(status, errCode, request{route: "POST /v1/groups/{groupId}/join", as: as, params: map[string]string{"groupId": id}})
	}
	join(409, "ALREADY_MEMBER", lily, room)
	require.Equal(t, "SUCCEEDED", join(200, "", mia, room).Body["status"])
	join(409, "GROUP_FULL", noa, room)
	join(404, "GROUP_NOT_FOUND", noa, "NOPE")
	join(404, "GROUP_NOT_FOUND", patient(clinicB, "zoe"), room)
	require.Equal(t, "SUCCEEDED", status(room).Body["status"])

	// The walk-in of the visit flow is a patient now.
	fresh := open(201, "", lily, "newcomers").Body["groupId"].(string)
	join(422, "NOT_A_NEW_PATIENT", patient(clinicA, "walk-in"), fresh)

	quick := open(201, "", noa, "quick").Body["groupId"].(string)
	c.clock.Advance(2 * time.Minute)
	view = status(quick)
	require.Equal(t, "CLOSING", view.Body["status"])
	require.EqualValues(t, 0, view.Body["secondsLeft"])
	join(409, "GROUP_CLOSED", mia, quick)
}

func (c *contract) hookFlow() {
	t := c.t
	put := func(status int, errCode string, id string, body map[string]any) answer {
		return c.expect(status, errCode, request{route: "PUT /v1/admin/hooks/{ruleId}", params: map[string]string{"ruleId": id},
			as: admin(clinicA), body: jsonBody(body)})
	}
	put(200, "", "gift-on-bind", map[string]any{"event": "referral.bound", "issueCoupon": map[string]any{"templateId": "newcomer-gift", "to": "referee"}})
	rule := put(200, "", "crm", map[string]any{"event": "group.succeeded",
		"webhook": map[string]any{"url": "https://crm.example-clinic.cn/laoyou", "secret": "0123456789abcdef-secret"}})
	require.Equal(t, "****cret", rule.Body["webhook"].(map[string]any)["secret"], "the secret is masked")
	put(404, "TEMPLATE_NOT_FOUND", "nothing", map[string]any{"event": "referral.bound", "issueCoupon": map[string]any{"templateId": "no-such", "to": "referee"}})
	put(400, "BAD_REQUEST", "neither", map[string]any{"event": "referral.bound"})
	put(400, "BAD_REQUEST", "http", map[string]any{"event": "group.succeeded",
		"webhook": map[string]any{"url": "http://crm.example-clinic.cn/laoyou", "secret": "0123456789abcdef-secret"}})

	rules := c.expect(200, "", request{route: "GET /v1/admin/hooks", as: admin(clinicA)})
	require.Len(t, rules.Body["rules"], 2)
	c.expect(403, "FORBIDDEN", request{route: "GET /v1/admin/hooks", as: staff(clinicA)})

	// A webhook that kept failing, as the dispatcher keeps it.
	e := event.New(event.GroupSucceeded, clinicA, c.clock.Now(), map[string]any{"groupId": "G1", "dealId": "duo"})
	payload, err := hook.Payload(e)
	require.NoError(t, err)
	err = dynamo.HookStore{Store: c.deps.Store}.DeadLetter(context.Background(), hook.DeadLetter{
		Tenant: clinicA, EventID: e.ID, EventType: e.Type, RuleID: "crm", Action: "webhook",
		URL: "https://crm.example-clinic.cn/laoyou", Attempts: 5, Status: 502, Error: "status 502",
		Payload: payload, At: c.clock.Now(),
	}, hook.Effect(e.ID, "crm", "webhook"))
	require.NoError(t, err)
	dls := c.expect(200, "", request{route: "GET /v1/admin/hooks/dead-letters", as: admin(clinicA)})
	require.Len(t, dls.Body["deadLetters"], 1)
	c.expect(200, "", request{route: "GET /v1/admin/hooks/dead-letters", as: admin(clinicB)})
}

func (c *contract) idempotencyFlow() {
	t := c.t
	eve := patient(clinicA, "eve")
	code := c.expect(200, "", request{route: "POST /v1/referral/code", as: patient(clinicA, "frank")}).Body["code"].(string)
	body := jsonBody(map[string]string{"code": code})
	key := map[string]string{"Idempotency-Key": "bind-eve-1"}
	first := c.expect(200, "", request{route: "POST /v1/referral/bind", as: eve, body: body, headers: key})
	again := c.expect(200, "", request{route: "POST /v1/referral/bind", as: eve, body: body, headers: key})
	require.Equal(t, first.Raw, again.Raw, "a replay answers the first response")
	// A key sent again with another body that reaches the write (a bind
	// with another code is answered from the read: eve is bound already).
	ivy, claimKey := patient(clinicA, "ivy"), map[string]string{"Idempotency-Key": "claim-ivy-1"}
	c.expect(201, "", request{route: "POST /v1/coupons/claim", as: ivy, body: `{"templateId":"welcome-100"}`, headers: claimKey})
	c.expect(422, "IDEMPOTENCY_KEY_REUSED", request{route: "POST /v1/coupons/claim", as: ivy,
		body: `{"templateId":"summer-20"}`, headers: claimKey})
}

func (c *contract) accountFlow() {
	const appID, appSecret = "wx00000000000000aa", "contract-secret"
	c.wechat.AddApp(appID, appSecret)
	c.expect(404, "WECHAT_NOT_CONFIGURED", request{route: "GET /v1/admin/wechat", as: admin(clinicA)})
	signIn := func(status int, errCode, tenant, code string) answer {
		return c.expect(status, errCode, request{route: "POST /v1/auth/wechat", body: jsonBody(map[string]string{"tenant": tenant, "code": code})})
	}
	signIn(404, "WECHAT_NOT_CONFIGURED", clinicA, c.wechat.LoginCode(appID, "o-1", ""))
	c.expect(400, "BAD_REQUEST", request{route: "PUT /v1/admin/wechat", as: admin(clinicA), body: `{"appId":"wx1"}`})
	c.expect(403, "FORBIDDEN", request{route: "PUT /v1/admin/wechat", as: staff(clinicA), body: `{"appId":"` + appID + `","appSecret":"x"}`})
	c.expect(200, "", request{route: "PUT /v1/admin/wechat", as: admin(clinicA), body: `{"appId":"` + appID + `","appSecret":"` + appSecret + `"}`})
	c.expect(200, "", request{route: "GET /v1/admin/wechat", as: admin(clinicA)})

	in := signIn(200, "", clinicA, c.wechat.LoginCode(appID, "o-1", ""))
	user := in.Body["userId"].(string)
	used := c.wechat.LoginCode(appID, "o-2", "")
	signIn(200, "", clinicA, used)
	signIn(422, "WECHAT_CODE_INVALID", clinicA, used)
	c.wechat.Block(appID, "o-3")
	signIn(403, "WECHAT_USER_BLOCKED", clinicA, c.wechat.LoginCode(appID, "o-3", ""))
	c.wechat.Fail(wechatstub.Code2Session, wechatstub.Busy, 2)
	signIn(503, "WECHAT_UNAVAILABLE", clinicA, c.wechat.LoginCode(appID, "o-4", ""))
	c.expect(400, "BAD_REQUEST", request{route: "POST /v1/auth/wechat", body: `{"tenant":"` + clinicA + `"}`})

	c.expect(200, "", request{route: "GET /.well-known/openid-configuration"})
	c.expect(200, "", request{route: "GET /.well-known/jwks.json"})

	c.expect(200, "", request{route: "PUT /v1/admin/roles/{userId}", params: map[string]string{"userId": user}, as: admin(clinicA), body: `{"role":"staff"}`})
	c.expect(400, "BAD_REQUEST", request{route: "PUT /v1/admin/roles/{userId}", params: map[string]string{"userId": user}, as: admin(clinicA), body: `{"role":"boss"}`})

	me := patient(clinicA, user)
	c.expect(200, "", request{route: "POST /v1/me/phone", as: me, body: jsonBody(map[string]string{"code": c.wechat.PhoneCode(appID, "13812345678")})})
	c.expect(422, "WECHAT_CODE_INVALID", request{route: "POST /v1/me/phone", as: me, body: `{"code":"never-issued"}`})
	// Mini-program codes: the caller's referral code, a room.
	c.expect(404, "CODE_NOT_FOUND", request{route: "GET /v1/referral/code/image", as: me})
	c.expect(200, "", request{route: "POST /v1/referral/code", as: me})
	c.expect(200, "", request{route: "GET /v1/referral/code/image", as: me})
	c.expect(404, "WECHAT_NOT_CONFIGURED", request{route: "GET /v1/referral/code/image", as: patient(clinicB, "zoe")})
	c.expect(404, "GROUP_NOT_FOUND", request{route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": "NOPE"}})
	room := c.expect(201, "", request{route: "POST /v1/groups", as: patient(clinicA, "image-leader"), body: `{"dealId":"duo"}`})
	c.expect(200, "", request{route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": room.Body["groupId"].(string)}})
	roomImage := func(tenant string) request {
		return request{route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": room.Body["groupId"].(string)},
			query: map[string]string{"tenant": tenant}}
	}
	c.expect(200, "", roomImage(clinicA))
	c.expect(404, "GROUP_NOT_FOUND", roomImage(clinicB))
	c.expect(400, "BAD_REQUEST", roomImage("not a clinic"))
	c.wechat.Fail(wechatstub.PhoneNumber, wechatstub.Busy, 2)
	c.expect(503, "WECHAT_UNAVAILABLE", request{route: "POST /v1/me/phone", as: me, body: jsonBody(map[string]string{"code": c.wechat.PhoneCode(appID, "13812345679")})})
	c.expect(404, "WECHAT_NOT_CONFIGURED", request{route: "POST /v1/me/phone", as: patient(clinicB, "zoe"), body: `{"code":"x"}`})

	// Data rights: the caller's copy, then the erasure, by the caller and by the clinic.
	c.expect(200, "", request{route: "GET /v1/me/data", as: me})
	erase := func(as who, userID string) request {
		return request{route: "DELETE /v1/admin/users/{userId}", params: map[string]string{"userId": userID}, as: as}
	}
	c.expect(404, "NOT_FOUND", erase(admin(clinicB), user))
	c.expect(403, "FORBIDDEN", erase(staff(clinicA), user))
	c.expect(200, "", request{route: "DELETE /v1/me", as: me})
	c.expect(200, "", request{route: "GET /v1/me/data", as: me})
	c.expect(200, "", erase(admin(clinicA), user))
}
