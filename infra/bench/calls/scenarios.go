package calls

import (
	"context"
	"fmt"
	"net/http"

	"github.com/laoyou/laoyou/infra/bench/apistack"
)

// Scenario is how one route is measured: a request that does the route's
// real work (a claim that issues a coupon, a join that takes a seat), not a
// refusal.
type Scenario struct {
	Route  string // route key, as the API lists it
	Name   string // short and unique, for benchmark names
	Status int    // the answer of a request that did its work
	// Request sets up what request n needs (through the API, uncounted) and
	// returns it. Each n gets things of its own, so the requests measured
	// do equal work: a fresh room to join, a new coupon to redeem.
	Request func(ctx context.Context, w *World, n int) (apistack.Request, error)
	// Note says why the figures are what they are, where that is not
	// plain from the operations.
	Note string
	// Fix says what would bring the route within its goal, where it is
	// known to miss it.
	Fix string
	// NoTable says the route answers from configuration and keys alone,
	// never calling DynamoDB (the issuer's discovery document and JWKS).
	NoTable bool
	// WriteOnly tightens a write route's budget to one write and no read.
	WriteOnly bool
}

// World is what the scenarios share: one clinic with a coupon template, a
// voucher template, a deal, a hook rule and a referrer with friends, set up
// on a stack whose calls are not counted.
type World struct {
	Setup    *apistack.Stack
	Tenant   string
	Template string // claimable coupon template
	Voucher  string // the deal's voucher template, not claimable
	Gift     string // the referee's gift on binding, not claimable
	Deal     string // rooms of 3: a join to a room of 1 never fills it
	Referrer apistack.Claims
	Code     string // the referrer's code
	Holder   apistack.Claims
	Room     string // an open room of Deal, whose image is asked for
}

const tenant = "bench-clinic"

func newWorld(ctx context.Context, s *apistack.Stack) (*World, error) {
	w := &World{
		Setup: s, Tenant: tenant, Template: "welcome", Voucher: "trio-voucher", Gift: "newcomer-gift", Deal: "trio",
		Referrer: apistack.Patient(tenant, "referrer"), Holder: apistack.Patient(tenant, "holder"),
	}
	steps := []func() error{
		func() error {
			return s.PutTemplate(ctx, tenant, w.Template, map[string]any{
				"title": "新客立减10元", "kind": "CASH", "valueFen": 1000, "validDays": 30,
				"stock": 100_000, "perUserLimit": 1, "claimable": true,
			})
		},
		func() error {
			return s.PutTemplate(ctx, tenant, w.Voucher, map[string]any{
				"title": "双人体验券", "kind": "VOUCHER", "valueFen": 39900, "validDays": 60,
				"stock": 0, "perUserLimit": 1, "claimable": false,
			})
		},
		func() error {
			return s.PutTemplate(ctx, tenant, w.Gift, map[string]any{
				"title": "上门礼", "kind": "GIFT", "validDays": 30, "stock": 0, "perUserLimit": 1, "claimable": false,
			})
		},
		func() error { return s.PutDeal(ctx, tenant, w.Deal, dealSpec(w.Voucher)) },
		func() error {
			_, err := s.Must(ctx, putHookRequest("gift-on-bind", w.Gift), http.StatusOK)
			return err
		},
		func() (err error) { w.Code, err = s.ReferralCode(ctx, w.Referrer); return err },
		func() error {
			for i := range 3 {
				if _, err := s.Must(ctx, bindRequest(apistack.Patient(tenant, fmt.Sprintf("friend-%d", i)), w.Code), http.StatusOK); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { _, err := s.Claim(ctx, w.Holder, w.Template); return err },
		func() (err error) {
			w.Room, err = s.OpenRoom(ctx, apistack.Patient(tenant, "room-leader"), w.Deal)
			return err
		},
		func() error {
			s.WeChat.AddApp(benchAppID, benchAppSecret)
			_, err := s.Must(ctx, putWeChatRequest(), http.StatusOK)
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func dealSpec(voucher string) map[string]any {
	return map[string]any{
		"title": "三人团·水光体验", "sku": "HYDRA-3", "priceFen": 59900, "groupPriceFen": 39900,
		"groupSize": 3, "ttlSeconds": 86400, "stock": 100_000, "perUserLimit": 1,
		"newcomersOnly": false, "voucherTemplateId": voucher,
	}
}

// putHookRequest is the demo clinic's rule: a gift to every newly bound
// referee.
func putHookRequest(ruleID, gift string) apistack.Request {
	return apistack.Request{
		Route: "PUT /v1/admin/hooks/{ruleId}", Params: map[string]string{"ruleId": ruleID},
		As:   apistack.Admin(tenant, "bench-admin"),
		Body: fmt.Sprintf(`{"event":"referral.bound","issueCoupon":{"templateId":%q,"to":"referee"}}`, gift),
	}
}

// visitRequest records a paid treatment of user at the front desk.
func visitRequest(w *World, visitID, user string) apistack.Request {
	return apistack.Request{
		Route: "POST /v1/staff/visits", As: apistack.Staff(w.Tenant, "front-desk"),
		Body: jsonOf(map[string]any{"visitId": visitID, "userId": user, "kind": "treatment", "amountFen": 128000}),
	}
}

// The clinic's mini-program, as the WeChat stand-in knows it.
const benchAppID, benchAppSecret = "wxbe4c0000000000aa", "bench-secret"

func putWeChatRequest() apistack.Request {
	return apistack.Request{
		Route: "PUT /v1/admin/wechat", As: apistack.Admin(tenant, "bench-admin"),
		Body: jsonOf(map[string]any{"appId": benchAppID, "appSecret": benchAppSecret}),
	}
}

func bindRequest(as apistack.Claims, code string) apistack.Request {
	return apistack.Request{Route: "POST /v1/referral/bind", As: as, Body: fmt.Sprintf(`{"code":%q}`, code)}
}

// user is a patient of the world's clinic who exists for request n of one
// scenario only.
func user(scenario string, n int) apistack.Claims {
	return apistack.Patient(tenant, fmt.Sprintf("%s-%d", scenario, n))
}

// Scenarios cover every route of the HTTP API; TestEveryRouteHasAScenario
// keeps it so.
var Scenarios = []Scenario{
	// Referral.
	{
		Route: "POST /v1/referral/code", Name: "create-code", Status: http.StatusOK,
		Request: func(_ context.Context, _ *World, n int) (apistack.Request, error) {
			return apistack.Request{Route: "POST /v1/referral/code", As: user("create-code", n)}, nil
		},
		Note: "a first code: the read finds none, the write creates it",
	},
	{
		Route: "GET /v1/r/{code}", Name: "resolve-code", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			code, err := w.Setup.ReferralCode(ctx, user("resolve-code", n))
			return apistack.Request{
				Route: "GET /v1/r/{code}", Params: map[string]string{"code": code}, Query: map[string]string{"tenant": w.Tenant},
			}, err
		},
		Note: "as the clinic's mini-program asks, naming its clinic (`?tenant=`): warm one GetItem of the code, the " +
			"clinic's profile and newcomer offer coming from the settings cache; cold one BatchGetItem of the code and the " +
			"settings. Without `?tenant=` a cold request reads the settings after the code (2 reads). Clicks are counted " +
			"by POST /v1/r/{code}/open",
		Fix: "Send `?tenant=` from the page, so the settings come in the code's read.",
	},
	{
		Route: "POST /v1/r/{code}/open", Name: "open-code", Status: http.StatusNoContent,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{Route: "POST /v1/r/{code}/open", Params: map[string]string{"code": w.Code}}, nil
		},
		Note:      "one PutItem of a fresh open item, no read: the stream resolves the code and counts the click",
		WriteOnly: true,
	},
	{
		Route: "POST /v1/referral/bind", Name: "bind", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, n int) (apistack.Request, error) {
			return bindRequest(user("bind", n), w.Code), nil
		},
		Note: "the code is read to find the referrer; cold, the tenant's settings (the binding window) come in the same BatchGetItem",
	},
	{
		Route: "GET /v1/referral/me", Name: "referral-me", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/referral/me", As: w.Referrer}, nil
		},
		Note: "a referrer with three friends",
	},

	{
		Route: "POST /v1/staff/visits", Name: "record-visit", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			referee := user("record-visit", n)
			_, err := w.Setup.Must(ctx, bindRequest(referee, w.Code), http.StatusOK)
			return visitRequest(w, fmt.Sprintf("visit-%d", n), referee["sub"]), err
		},
		Note: "the first visit of a bound referee, which qualifies the referral: its binding is read; cold, the tenant's settings (binding window, hold) come in the same BatchGetItem",
	},
	{
		Route: "POST /v1/staff/visits/{visitId}/refund", Name: "refund-visit", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			referee, visit := user("refund-visit", n), fmt.Sprintf("refunded-%d", n)
			if _, err := w.Setup.Must(ctx, bindRequest(referee, w.Code), http.StatusOK); err != nil {
				return apistack.Request{}, err
			}
			if _, err := w.Setup.Must(ctx, visitRequest(w, visit, referee["sub"]), http.StatusOK); err != nil {
				return apistack.Request{}, err
			}
			return apistack.Request{
				Route: "POST /v1/staff/visits/{visitId}/refund", Params: map[string]string{"visitId": visit},
				As: apistack.Staff(w.Tenant, "front-desk"),
			}, nil
		},
		Note: "the refund of a qualifying treatment: the visit is read to find what it earned",
	},

	// Coupons.
	{
		Route: "GET /v1/coupon-templates", Name: "list-templates", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/coupon-templates", Query: map[string]string{"tenant": w.Tenant}}, nil
		},
	},
	{
		Route: "POST /v1/coupons/claim", Name: "claim", Status: http.StatusCreated,
		Request: func(_ context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.ClaimRequest(user("claim", n), w.Template), nil
		},
		Note: "cold, the template is read; warm, it is cached",
	},
	{
		Route: "GET /v1/coupons/me", Name: "coupons-me", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/coupons/me", As: w.Holder}, nil
		},
	},
	{
		Route: "POST /v1/staff/coupons/{couponCode}/redeem", Name: "redeem", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			code, err := w.Setup.Claim(ctx, user("redeem", n), w.Template)
			return apistack.Request{
				Route: "POST /v1/staff/coupons/{couponCode}/redeem", Params: map[string]string{"couponCode": code},
				As: apistack.Staff(w.Tenant, "front-desk"),
			}, err
		},
		Note: "the coupon is read to tell not found, expired and redeemed apart",
	},

	// Group-buy.
	{
		Route: "GET /v1/deals", Name: "list-deals", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/deals", Query: map[string]string{"tenant": w.Tenant}}, nil
		},
	},
	{
		Route: "GET /v1/deals/{dealId}", Name: "get-deal", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{
				Route: "GET /v1/deals/{dealId}", Params: map[string]string{"dealId": w.Deal},
				Query: map[string]string{"tenant": w.Tenant},
			}, nil
		},
		Note: "warm, the deal comes from the cache",
	},
	{
		Route: "POST /v1/groups", Name: "open-group", Status: http.StatusCreated,
		Request: func(_ context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.OpenRequest(user("open-group", n), w.Deal), nil
		},
		Note: "cold, the deal is read; warm, it is cached",
	},
	{
		Route: "GET /v1/groups/{groupId}", Name: "get-group", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			id, err := w.Setup.OpenRoom(ctx, user("get-group", n), w.Deal)
			return apistack.Request{
				Route: "GET /v1/groups/{groupId}", Params: map[string]string{"groupId": id}, Query: map[string]string{"tenant": w.Tenant},
			}, err
		},
		Note: "with `?tenant=`, as for GET /v1/r/{code}: warm one GetItem of the room, the clinic's profile from the " +
			"settings cache; cold one BatchGetItem of the room and the settings (2 reads without `?tenant=`)",
		Fix: "Send `?tenant=` from the page, so the settings come in the room's read.",
	},
	{
		Route: "POST /v1/groups/{groupId}/join", Name: "join-group", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			id, err := w.Setup.OpenRoom(ctx, user("join-group-leader", n), w.Deal)
			return apistack.JoinRequest(user("join-group", n), id), err
		},
		Note: "the room is read (strongly consistent) to decide between join, full and closed",
	},

	// Admin.
	{
		Route: "PUT /v1/admin/coupon-templates/{templateId}", Name: "put-coupon-template", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{
				Route: "PUT /v1/admin/coupon-templates/{templateId}", Params: map[string]string{"templateId": fmt.Sprintf("tpl-%d", n)},
				As:   apistack.Admin(w.Tenant, "bench-admin"),
				Body: `{"title":"到店礼","kind":"GIFT","validDays":30,"stock":500,"perUserLimit":1,"claimable":true}`,
			}, nil
		},
		Note: "a new template: the read finds none, the write creates it with its stock shards",
	},
	{
		Route: "PUT /v1/admin/deals/{dealId}", Name: "put-deal", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{
				Route: "PUT /v1/admin/deals/{dealId}", Params: map[string]string{"dealId": fmt.Sprintf("deal-%d", n)},
				As: apistack.Admin(w.Tenant, "bench-admin"), Body: jsonOf(dealSpec(w.Voucher)),
			}, nil
		},
		Note: "the read is one TransactGetItems of the deal and its 64 possible seat shards",
	},
	{
		Route: "PUT /v1/admin/hooks/{ruleId}", Name: "put-hook", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, n int) (apistack.Request, error) {
			return putHookRequest(fmt.Sprintf("rule-%d", n), w.Gift), nil
		},
		Note: "an issueCoupon rule: its template is read to check it exists",
	},
	{
		Route: "GET /v1/admin/settings", Name: "get-settings", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/admin/settings", As: apistack.Admin(w.Tenant, "bench-admin")}, nil
		},
	},
	{
		Route: "PUT /v1/admin/settings", Name: "put-settings", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{
				Route: "PUT /v1/admin/settings", As: apistack.Admin(w.Tenant, "bench-admin"),
				Body: jsonOf(map[string]any{
					"newcomerOffer":     map[string]any{"title": "新客到院礼", "templateId": w.Gift},
					"bindingWindowDays": 30 + n, "holdDays": 7, "monthlyCap": 10,
				}),
			}, nil
		},
		Note: "with a newcomer offer, whose template is read to check it exists",
	},
	{
		Route: "GET /v1/admin/stats", Name: "stats", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/admin/stats", As: apistack.Admin(w.Tenant, "bench-admin")}, nil
		},
	},
	{
		Route: "GET /v1/admin/hooks", Name: "list-hooks", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/admin/hooks", As: apistack.Admin(w.Tenant, "bench-admin")}, nil
		},
	},
	{
		Route: "GET /v1/admin/hooks/dead-letters", Name: "dead-letters", Status: http.StatusOK,
		Request: func(_ context.Context, w *World, _ int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/admin/hooks/dead-letters", As: apistack.Admin(w.Tenant, "bench-admin")}, nil
		},
	},
	// Accounts.
	{
		Route: "POST /v1/auth/wechat", Name: "sign-in", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			code := w.Setup.WeChat.LoginCode(benchAppID, fmt.Sprintf("openid-%d", n), "")
			return apistack.Request{Route: "POST /v1/auth/wechat", Body: jsonOf(map[string]any{"tenant": w.Tenant, "code": code})}, nil
		},
		Note: "Besides one WeChat call: the identity's generation, role and openid items in one BatchGetItem, then the openid (UpdateItem); cold, the clinic's mini-program too (GetItem, then cached).",
		Fix:  "Cold: keep the clinic's mini-program beside the role, or ship it in configuration.",
	},
	{
		Route: "GET /.well-known/openid-configuration", Name: "openid-configuration", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /.well-known/openid-configuration"}, nil
		},
		Note:    "From configuration: no call.",
		NoTable: true,
	},
	{
		Route: "GET /.well-known/jwks.json", Name: "jwks", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /.well-known/jwks.json"}, nil
		},
		Note:    "The keys' public halves (from KMS once per key in AWS): no DynamoDB call.",
		NoTable: true,
	},
	{
		Route: "POST /v1/me/phone", Name: "bind-phone", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			code := w.Setup.WeChat.PhoneCode(benchAppID, fmt.Sprintf("1380000%04d", n))
			return apistack.Request{Route: "POST /v1/me/phone", As: user("bind-phone", n), Body: jsonOf(map[string]any{"code": code})}, nil
		},
		Note: "Besides one WeChat call: the caller's referral code (GetItem), then the profile and the code's copies in one transaction; cold, the clinic's mini-program too.",
		Fix:  "Cold: keep the clinic's mini-program beside the caller's code, or ship it in configuration.",
	},
	{
		Route: "GET /v1/admin/wechat", Name: "get-wechat", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/admin/wechat", As: apistack.Admin(w.Tenant, "bench-admin")}, nil
		},
	},
	{
		Route: "PUT /v1/admin/wechat", Name: "put-wechat", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return putWeChatRequest(), nil
		},
	},
	{
		Route: "PUT /v1/admin/roles/{userId}", Name: "grant-role", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{
				Route: "PUT /v1/admin/roles/{userId}", Params: map[string]string{"userId": fmt.Sprintf("desk-%d", n)},
				As: apistack.Admin(w.Tenant, "bench-admin"), Body: `{"role":"staff"}`,
			}, nil
		},
	},
	{
		Route: "GET /v1/me/data", Name: "export-my-data", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/me/data", As: w.Referrer}, nil
		},
		Note: "Two paged Queries: the caller's partition and their ByOwner entries (coupons, rooms, visits).",
		Fix:  "None wanted: a patient's copy of their data is rare, and a third index would cost every write.",
	},
	{
		Route: "DELETE /v1/me", Name: "erase-me", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			as := user("erase-me", n)
			_, err := w.Setup.Claim(ctx, as, w.Template)
			return apistack.Request{Route: "DELETE /v1/me", As: as}, err
		},
		Note: "The openid item (GetItem), the marker and user.erased (one transaction), then the scrub: the two Queries of the export and one conditional write per change (here the claimed coupon VOID, its unit back).",
		Fix:  "None wanted: an erasure may touch more than 100 items, so it cannot be one transaction; it is rare and resumable.",
	},
	{
		Route: "DELETE /v1/admin/users/{userId}", Name: "erase-user", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			as := user("erase-user", n)
			_, err := w.Setup.Claim(ctx, as, w.Template)
			return apistack.Request{
				Route: "DELETE /v1/admin/users/{userId}", Params: map[string]string{"userId": as["sub"]},
				As: apistack.Admin(w.Tenant, "bench-admin"),
			}, err
		},
		Note: "As DELETE /v1/me, after the export's Queries that find whether the clinic holds the user at all.",
		Fix:  "None wanted: see DELETE /v1/me.",
	},
	{
		Route: "GET /v1/referral/code/image", Name: "code-image", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{Route: "GET /v1/referral/code/image", As: w.Referrer}, nil
		},
		Note: "once drawn (WeChat draws it once, on the first request), the caller's code and its image, stored under its " +
			"owner, in one BatchGetItem; cold, the clinic's mini-program is read first (GetItem, then cached)",
		Fix: "Cold: keep the clinic's mini-program in configuration, or read it in the same BatchGetItem.",
	},
	{
		Route: "GET /v1/groups/{groupId}/image", Name: "group-image", Status: http.StatusOK,
		Request: func(ctx context.Context, w *World, n int) (apistack.Request, error) {
			return apistack.Request{
				Route: "GET /v1/groups/{groupId}/image", Params: map[string]string{"groupId": w.Room},
				Query: map[string]string{"tenant": w.Tenant},
			}, nil
		},
		Note: "one room's image, with `?tenant=` as the clinic's page asks: cold is its first request, which has WeChat " +
			"draw it (the clinic's mini-program read, the room and image in one BatchGetItem, the image read again, a " +
			"claim, the image stored); later requests read the room and the stored image in one BatchGetItem. Without " +
			"`?tenant=` the room is read before the image (2 reads)",
		Fix: "Only the first request of a room, which has WeChat draw its image: a CDN in front of the route " +
			"(Cache-Control: public, immutable) takes the later ones off the table altogether.",
	},
}
