package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The clinic the workload runs against, and what its admin sets up.
const (
	clinic = "clinic-chaos"

	welcomeTemplate = "welcome"     // claimable, one per patient, stock runs out
	giftTemplate    = "gift"        // claimable twice, and the referee's reward: claims and rewards share its stock
	thanksTemplate  = "thanks"      // rewards only, a small stock: some rewards are dead-lettered
	voucherTemplate = "duo-voucher" // the duo deal's voucher, unlimited
	duoDeal         = "duo"         // rooms of 2
	trioDeal        = "trio"        // rooms of 3 that succeed with 2, newcomers only

	visitsRoute = "POST /v1/staff/visits"
)

// setupRequests are the admin's configuration, made before any fault.
func setupRequests() []request {
	admin := adminOf(clinic)
	tpl := func(id string, kv map[string]any) request {
		body := map[string]any{"title": "¥50 off", "kind": "CASH", "valueFen": 5000, "validDays": 30, "claimable": true}
		for k, v := range kv {
			body[k] = v
		}
		b, _ := json.Marshal(body)
		return request{fn: "admin", route: "PUT /v1/admin/coupon-templates/{templateId}", params: map[string]string{"templateId": id}, body: string(b), as: admin}
	}
	deal := func(id string, kv map[string]any) request {
		body := map[string]any{"title": "闺蜜卡", "sku": "FACIAL-1", "priceFen": 59900, "groupPriceFen": 39900, "newcomersOnly": false}
		for k, v := range kv {
			body[k] = v
		}
		b, _ := json.Marshal(body)
		return request{fn: "admin", route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": id}, body: string(b), as: admin}
	}
	rule := func(id, body string) request {
		return request{fn: "admin", route: "PUT /v1/admin/hooks/{ruleId}", params: map[string]string{"ruleId": id}, body: body, as: admin}
	}
	return []request{
		tpl(welcomeTemplate, map[string]any{"stock": 120, "perUserLimit": 1}),
		tpl(giftTemplate, map[string]any{"kind": "GIFT", "valueFen": nil, "stock": 300, "perUserLimit": 2}),
		tpl(thanksTemplate, map[string]any{"stock": 60, "perUserLimit": 1, "claimable": false}),
		tpl(voucherTemplate, map[string]any{"kind": "VOUCHER", "valueFen": 39900, "stock": 0, "perUserLimit": 1, "claimable": false}),
		deal(duoDeal, map[string]any{"groupSize": 2, "ttlSeconds": 60, "stock": 80, "perUserLimit": 2, "voucherTemplateId": voucherTemplate}),
		deal(trioDeal, map[string]any{"groupSize": 3, "minSize": 2, "ttlSeconds": 90, "stock": 120, "perUserLimit": 1, "newcomersOnly": true}),
		rule("thank-referrer", `{"event":"referral.bound","issueCoupon":{"templateId":"thanks","to":"referrer"}}`),
		rule("gift-referee", `{"event":"referral.bound","issueCoupon":{"templateId":"gift","to":"referee"}}`),
		rule("thanks-again", `{"event":"coupon.redeemed","issueCoupon":{"templateId":"thanks","to":"user"}}`),
	}
}

// world is what the clients have learnt so far: whose codes, which
// coupons and rooms exist. Workers pick their next request from it.
type world struct {
	patients, staff []string

	mu      sync.Mutex
	codes   map[string]string // user → referral code
	coders  []string          // the users with a code, in the order learnt
	coupons []string
	rooms   []string
}

func newWorld(patients, staff int) *world {
	w := &world{codes: map[string]string{}}
	for i := range patients {
		w.patients = append(w.patients, fmt.Sprintf("p%03d", i))
	}
	for i := range staff {
		w.staff = append(w.staff, fmt.Sprintf("desk%d", i))
	}
	return w
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (w *world) patient(rng *rand.Rand) claims { return patientOf(clinic, pick(rng, w.patients)) }

func (w *world) desk(rng *rand.Rand) claims { return staffOf(clinic, pick(rng, w.staff)) }

// recent picks among the newest entries of xs, where the live rooms are.
func recent(rng *rand.Rand, xs []string, n int) (string, bool) {
	if len(xs) == 0 {
		return "", false
	}
	return xs[len(xs)-1-rng.IntN(min(n, len(xs)))], true
}

func (w *world) learn(o outcome) {
	if !o.ok() {
		return
	}
	m := o.json()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch o.op {
	case "code":
		user := o.req.as["sub"]
		if _, known := w.codes[user]; !known {
			w.coders = append(w.coders, user)
		}
		w.codes[user], _ = m["code"].(string)
	case "claim":
		code, _ := m["couponCode"].(string)
		w.coupons = append(w.coupons, code)
	case "open":
		id, _ := m["groupId"].(string)
		w.rooms = append(w.rooms, id)
	case "mine":
		cs, _ := m["coupons"].([]any)
		for _, x := range cs {
			if c, _ := x.(map[string]any); c["status"] == "ISSUED" {
				w.coupons = append(w.coupons, c["couponCode"].(string))
			}
		}
	}
}

// operation is one kind of request a worker makes, with its weight in the
// mix. It returns false when the world does not allow it yet.
type operation struct {
	name   string
	weight int
	run    func(ctx context.Context, c *client, w *world, rng *rand.Rand) bool
}

// single is an operation of one request, built from what the world knows
// (under its lock).
func single(op string, build func(w *world, rng *rand.Rand) (request, bool)) func(context.Context, *client, *world, *rand.Rand) bool {
	return func(ctx context.Context, c *client, w *world, rng *rand.Rand) bool {
		w.mu.Lock()
		r, ok := build(w, rng)
		w.mu.Unlock()
		if ok {
			w.learn(c.do(ctx, op, r))
		}
		return ok
	}
}

// together sends requests at once, as when a room is shared in a busy
// WeChat group or two front desks scan the same coupon.
func together(ctx context.Context, c *client, w *world, op string, rs []request) {
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		// Each has its own client (and random source): they are different phones.
		peer := &client{sys: c.sys, rng: rand.New(rand.NewPCG(c.rng.Uint64(), uint64(i))), dropRate: c.dropRate, maxAttempts: c.maxAttempts, log: c.log}
		go func() {
			defer wg.Done()
			w.learn(peer.do(ctx, op, r))
		}()
	}
	wg.Wait()
}

func operations() []operation {
	return []operation{
		{"code", 8, single("code", func(w *world, rng *rand.Rand) (request, bool) {
			return request{fn: "referral", route: "POST /v1/referral/code", as: w.patient(rng)}, true
		})},
		{"click", 4, single("click", func(w *world, rng *rand.Rand) (request, bool) {
			if len(w.coders) == 0 {
				return request{}, false
			}
			code := w.codes[pick(rng, w.coders)]
			return request{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": code}}, true
		})},
		{"bind", 12, single("bind", func(w *world, rng *rand.Rand) (request, bool) {
			if len(w.coders) == 0 {
				return request{}, false
			}
			// Sometimes one's own code: a refusal the table must not show.
			code := w.codes[pick(rng, w.coders)]
			return request{fn: "referral", route: "POST /v1/referral/bind", body: fmt.Sprintf(`{"code":%q}`, strings.ToLower(code)), as: w.patient(rng)}, true
		})},
		{"claim", 14, single("claim", func(w *world, rng *rand.Rand) (request, bool) {
			tpl := pick(rng, []string{welcomeTemplate, giftTemplate})
			return request{fn: "coupons", route: "POST /v1/coupons/claim", body: fmt.Sprintf(`{"templateId":%q}`, tpl), as: w.patient(rng)}, true
		})},
		{"mine", 5, single("mine", func(w *world, rng *rand.Rand) (request, bool) {
			return request{fn: "coupons", route: "GET /v1/coupons/me", as: w.patient(rng)}, true
		})},
		{"redeem", 10, single("redeem", func(w *world, rng *rand.Rand) (request, bool) {
			code, ok := recent(rng, w.coupons, 60)
			return request{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": code}, as: w.desk(rng)}, ok
		})},
		{"redeem-race", 3, func(ctx context.Context, c *client, w *world, rng *rand.Rand) bool {
			w.mu.Lock()
			code, ok := recent(rng, w.coupons, 30)
			w.mu.Unlock()
			if ok {
				r := request{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": code}}
				a, b := r, r
				a.as, b.as = w.desk(rng), w.desk(rng)
				together(ctx, c, w, "redeem", []request{a, b})
			}
			return ok
		}},
		{"open", 12, single("open", func(w *world, rng *rand.Rand) (request, bool) {
			deal := pick(rng, []string{duoDeal, trioDeal})
			return request{fn: "groupbuy", route: "POST /v1/groups", body: fmt.Sprintf(`{"dealId":%q}`, deal), as: w.patient(rng)}, true
		})},
		{"join", 18, single("join", func(w *world, rng *rand.Rand) (request, bool) {
			id, ok := recent(rng, w.rooms, 12)
			return request{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", params: map[string]string{"groupId": id}, as: w.patient(rng)}, ok
		})},
		{"join-rush", 4, func(ctx context.Context, c *client, w *world, rng *rand.Rand) bool {
			w.mu.Lock()
			id, ok := recent(rng, w.rooms, 4)
			w.mu.Unlock()
			if ok {
				seen := map[string]bool{}
				var rs []request
				for len(rs) < 3 {
					as := w.patient(rng)
					if !seen[as["sub"]] {
						seen[as["sub"]] = true
						rs = append(rs, request{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", params: map[string]string{"groupId": id}, as: as})
					}
				}
				together(ctx, c, w, "join", rs)
			}
			return ok
		}},
		{"status", 3, single("status", func(w *world, rng *rand.Rand) (request, bool) {
			id, ok := recent(rng, w.rooms, 20)
			return request{fn: "groupbuy", route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": id}}, ok
		})},
		{"edit-deal", 1, single("edit-deal", func(w *world, rng *rand.Rand) (request, bool) {
			// The same terms under a new title: the seats are split again.
			var deals []request
			for _, r := range setupRequests() {
				if strings.HasPrefix(r.route, "PUT /v1/admin/deals/") {
					deals = append(deals, r)
				}
			}
			r := pick(rng, deals)
			r.body = strings.Replace(r.body, `"title":"闺蜜卡"`, fmt.Sprintf(`"title":"闺蜜卡 %d"`, rng.IntN(1000)), 1)
			return r, true
		})},
		{"visit", 5, single("visit", func(w *world, rng *rand.Rand) (request, bool) {
			kind := pick(rng, []string{"arrival", "treatment"})
			body := fmt.Sprintf(`{"visitId":%q,"userId":%q,"kind":%q,"amountFen":%d}`, uuid.NewString(), pick(rng, w.patients), kind, 10000+rng.IntN(90000))
			return request{fn: "referral", route: visitsRoute, body: body, as: w.desk(rng)}, true
		})},
	}
}

// worker makes n requests drawn from ops by weight.
func worker(ctx context.Context, c *client, w *world, ops []operation, n int) {
	total := 0
	for _, op := range ops {
		total += op.weight
	}
	for done := 0; done < n && ctx.Err() == nil; {
		x := c.rng.IntN(total)
		for _, op := range ops {
			if x -= op.weight; x < 0 {
				if op.run(ctx, c, w, c.rng) {
					done++
				}
				break
			}
		}
	}
}

// setUp makes the admin's configuration through the admin function of a
// system without faults.
func setUp(t *testing.T, sys *system) {
	t.Helper()
	sys.timeout = time.Minute // a cold DynamoDB Local may take seconds at first
	for _, r := range setupRequests() {
		resp := sys.invoke(context.Background(), r, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", r.route, resp.Body)
	}
}
