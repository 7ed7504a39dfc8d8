package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
)

func couponAdmin(tenant string) who {
	return who{"sub": "coupon-admin", "tenant": tenant, "role": "admin"}
}

// templateBody is a valid CASH template with fields overridden by kv (a
// nil value drops the field).
func templateBody(kv map[string]any) string {
	b := map[string]any{
		"title": "¥50 off your first visit", "kind": "CASH", "valueFen": 5000, "minSpendFen": 20000,
		"validDays": 30, "stock": 100, "perUserLimit": 1, "claimable": true,
	}
	for k, v := range kv {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	out, _ := json.Marshal(b)
	return string(out)
}

func (s *stack) putTemplateAs(as who, id, body string) reply {
	return s.do(call{fn: "admin", route: "PUT /v1/admin/coupon-templates/{templateId}", params: map[string]string{"templateId": id}, as: as, body: body})
}

func (s *stack) putTemplate(tenant, id string, kv map[string]any) map[string]any {
	s.t.Helper()
	r := s.putTemplateAs(couponAdmin(tenant), id, templateBody(kv))
	require.Equal(s.t, 200, r.Status, r.Body)
	return r.JSON(s.t)
}

func (s *stack) claim(as who, templateID string) reply {
	return s.do(call{fn: "coupons", route: "POST /v1/coupons/claim", as: as, body: fmt.Sprintf(`{"templateId":%q}`, templateID)})
}

func (s *stack) redeem(as who, code string) reply {
	return s.do(call{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": code}, as: as})
}

func (s *stack) myCoupons(as who) []map[string]any {
	s.t.Helper()
	r := s.do(call{fn: "coupons", route: "GET /v1/coupons/me", as: as})
	require.Equal(s.t, 200, r.Status, r.Body)
	var body struct {
		Coupons []map[string]any `json:"coupons"`
	}
	require.NoError(s.t, json.Unmarshal([]byte(r.Body), &body))
	require.NotNil(s.t, body.Coupons, "an empty list, not null")
	return body.Coupons
}

// templateListed is the template as the public list shows it, or nil.
func (s *stack) templateListed(tenant, id string) map[string]any {
	s.t.Helper()
	r := s.do(call{fn: "coupons", route: "GET /v1/coupon-templates", query: map[string]string{"tenant": tenant}})
	require.Equal(s.t, 200, r.Status, r.Body)
	for _, x := range r.JSON(s.t)["templates"].([]any) {
		if t := x.(map[string]any); t["templateId"] == id {
			return t
		}
	}
	return nil
}

// couponItems reads the table itself (a test may scan) for the codes of the
// coupons of a template.
func (s *stack) couponItems(templateID string) []string {
	s.t.Helper()
	filter := expression.Name("kind").Equal(expression.Value("coupon")).
		And(expression.Name("templateId").Equal(expression.Value(templateID)))
	e, err := expression.NewBuilder().WithFilter(filter).Build()
	require.NoError(s.t, err)
	p := dynamodb.NewScanPaginator(s.db.Client, &dynamodb.ScanInput{
		TableName: aws.String(s.db.Table), FilterExpression: e.Filter(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(s.t, err)
		for _, item := range page.Items {
			out = append(out, item["code"].(*types.AttributeValueMemberS).Value)
		}
	}
	return out
}

// stockLeft reads every stock shard of a template.
func (s *stack) stockLeft(tenant, templateID string, shards int) []int64 {
	s.t.Helper()
	left := make([]int64, shards)
	for n := range left {
		res, err := s.db.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: aws.String(s.db.Table),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("STOCK#%s#%s#%d", tenant, templateID, n)},
				"sk": &types.AttributeValueMemberS{Value: "_"},
			},
		})
		require.NoError(s.t, err)
		require.NotNil(s.t, res.Item, "shard %d", n)
		require.NoError(s.t, attributevalue.Unmarshal(res.Item["left"], &left[n]))
	}
	return left
}

// storeCoupon writes a coupon in any state straight through the store, as
// flows other than a claim (referral holds, refunds) do.
func (s *stack) storeCoupon(c coupon.Coupon) {
	s.t.Helper()
	c.Code = strings.ToUpper(c.Code)
	e := event.New(event.CouponIssued, c.Tenant, time.Now(), map[string]any{"couponCode": c.Code})
	conflict, err := dynamo.CouponStore{Store: s.deps.Store}.Issue(context.Background(), coupon.Issue{Coupon: c, Shard: -1, Event: e})
	require.NoError(s.t, err)
	require.Nil(s.t, conflict)
}

func TestCouponTemplateValidation(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	boss := couponAdmin("clinic-a")
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name  string
		as    who
		body  string
		field string // "" for 200
	}{
		{"cash", boss, templateBody(nil), ""},
		{"percent", boss, templateBody(map[string]any{"kind": "PERCENT", "valueFen": nil, "percentOff": 15, "maxOffFen": 30000}), ""},
		{"gift", boss, templateBody(map[string]any{"kind": "GIFT", "valueFen": nil, "stock": 0}), ""},
		{"voucher", boss, templateBody(map[string]any{"kind": "VOUCHER", "valueFen": 19900}), ""},
		{"fixed window", boss, templateBody(map[string]any{"validDays": nil, "validTo": future}), ""},
		{"no title", boss, templateBody(map[string]any{"title": nil}), "title"},
		{"blank title", boss, templateBody(map[string]any{"title": "  "}), "title"},
		{"no kind", boss, templateBody(map[string]any{"kind": nil}), "kind"},
		{"bad kind", boss, templateBody(map[string]any{"kind": "FREE"}), "kind"},
		{"cash without value", boss, templateBody(map[string]any{"valueFen": nil}), "valueFen"},
		{"value as text", boss, templateBody(map[string]any{"valueFen": "5000"}), "valueFen"},
		{"percent out of range", boss, templateBody(map[string]any{"kind": "PERCENT", "valueFen": nil, "percentOff": 100, "maxOffFen": 1}), "percentOff"},
		{"percent without cap", boss, templateBody(map[string]any{"kind": "PERCENT", "valueFen": nil, "percentOff": 10}), "maxOffFen"},
		{"negative min spend", boss, templateBody(map[string]any{"minSpendFen": -1}), "minSpendFen"},
		{"no validity", boss, templateBody(map[string]any{"validDays": nil}), "validTo"},
		{"zero days", boss, templateBody(map[string]any{"validDays": 0}), "validDays"},
		{"days and window", boss, templateBody(map[string]any{"validTo": future}), "validDays"},
		{"bad time", boss, templateBody(map[string]any{"validDays": nil, "validTo": "tomorrow"}), "validTo"},
		{"window over", boss, templateBody(map[string]any{"validDays": nil, "validTo": past}), "validTo"},
		{"window backwards", boss, templateBody(map[string]any{"validDays": nil, "validFrom": future, "validTo": past}), "validTo"},
		{"no stock", boss, templateBody(map[string]any{"stock": nil}), "stock"},
		{"negative stock", boss, templateBody(map[string]any{"stock": -5}), "stock"},
		{"no per-user limit", boss, templateBody(map[string]any{"perUserLimit": nil}), "perUserLimit"},
		{"zero per-user limit", boss, templateBody(map[string]any{"perUserLimit": 0}), "perUserLimit"},
		{"no claimable", boss, templateBody(map[string]any{"claimable": nil}), "claimable"},
		{"unknown field", boss, templateBody(map[string]any{"color": "red"}), "color"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.putTemplateAs(tt.as, fmt.Sprintf("tpl-%d", i), tt.body)
			if tt.field == "" {
				require.Equal(t, 200, r.Status, r.Body)
				return
			}
			require.Equal(t, 400, r.Status, r.Body)
			require.Equal(t, "BAD_REQUEST", r.Code(t))
			require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], `"`+tt.field+`"`)
		})
	}
	t.Run("roles", func(t *testing.T) {
		for _, as := range []who{patient("clinic-a", "p"), staff("clinic-a", "desk")} {
			r := s.putTemplateAs(as, "x", templateBody(nil))
			require.Equal(t, 403, r.Status, r.Body)
			require.Equal(t, "FORBIDDEN", r.Code(t))
		}
	})
	t.Run("bad id", func(t *testing.T) {
		r := s.putTemplateAs(boss, "a#b", templateBody(nil))
		require.Equal(t, 400, r.Status, r.Body)
	})
}

func TestCouponTemplates(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	got := s.putTemplate("clinic-a", "first-visit", nil)
	require.Equal(t, "first-visit", got["templateId"])
	require.Equal(t, 100.0, got["remaining"])
	s.putTemplate("clinic-a", "hook-only", map[string]any{"claimable": false})
	s.putTemplate("clinic-a", "unlimited", map[string]any{"stock": 0})
	s.putTemplate("clinic-b", "theirs", nil)

	r := s.do(call{fn: "coupons", route: "GET /v1/coupon-templates", query: map[string]string{"tenant": "clinic-a"}})
	require.Equal(t, 200, r.Status, r.Body)
	ids := map[string]map[string]any{}
	for _, x := range r.JSON(t)["templates"].([]any) {
		ids[x.(map[string]any)["templateId"].(string)] = x.(map[string]any)
	}
	require.Len(t, ids, 2, "claimable ones of clinic-a only")
	require.Equal(t, 100.0, ids["first-visit"]["remaining"])
	require.Equal(t, 5000.0, ids["first-visit"]["valueFen"])
	require.Nil(t, ids["unlimited"]["remaining"], "unlimited")

	for _, q := range []map[string]string{nil, {"tenant": ""}, {"tenant": "a#b"}} {
		r := s.do(call{fn: "coupons", route: "GET /v1/coupon-templates", query: q})
		require.Equal(t, 400, r.Status, r.Body)
		require.Equal(t, "BAD_REQUEST", r.Code(t))
	}

	t.Run("stock can be raised, never lowered", func(t *testing.T) {
		shards := coupon.ShardsFor(100)
		require.Equal(t, 201, s.claim(patient("clinic-a", "p1"), "first-visit").Status)
		raised := s.putTemplate("clinic-a", "first-visit", map[string]any{"stock": 150, "title": "¥50 off, more of them"})
		require.Equal(t, 150.0, raised["stock"])
		left := s.stockLeft("clinic-a", "first-visit", shards)
		total := int64(0)
		for _, l := range left {
			total += l
		}
		require.Equal(t, int64(149), total, "the raise is added to what is left")
		for _, body := range []string{templateBody(map[string]any{"stock": 149}), templateBody(map[string]any{"stock": 0})} {
			r := s.putTemplateAs(couponAdmin("clinic-a"), "first-visit", body)
			require.Equal(t, 400, r.Status, r.Body)
			require.Contains(t, r.Body, `\"stock\"`)
		}
		r := s.putTemplateAs(couponAdmin("clinic-a"), "unlimited", templateBody(map[string]any{"stock": 10}))
		require.Equal(t, 400, r.Status, r.Body)
		require.Equal(t, "¥50 off, more of them", s.templateListed("clinic-a", "first-visit")["title"])
	})
}

// The classic oversell: many buyers, little stock.
func TestSixtyClaimsOnStockFive(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "gift", map[string]any{"kind": "GIFT", "valueFen": nil, "stock": 5})
	replies := s.concurrently(60, func(i int) call {
		return call{fn: "coupons", route: "POST /v1/coupons/claim", as: patient("clinic-a", fmt.Sprintf("p%02d", i)), body: `{"templateId":"gift"}`}
	})
	require.Equal(t, map[int]int{201: 5, 409: 55}, statuses(replies))
	codes := map[string]bool{}
	for _, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "OUT_OF_STOCK", r.Code(t))
			continue
		}
		body := r.JSON(t)
		require.Equal(t, "ISSUED", body["status"])
		require.Equal(t, "gift", body["templateId"])
		require.Regexp(t, `^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{10}$`, body["couponCode"])
		codes[body["couponCode"].(string)] = true
	}
	require.Len(t, codes, 5)
	require.Len(t, s.couponItems("gift"), 5, "exactly 5 coupons in the table")
	require.Equal(t, []int64{0}, s.stockLeft("clinic-a", "gift", 1))

	// remaining follows from the stream.
	require.Equal(t, 5.0, s.templateListed("clinic-a", "gift")["remaining"], "before the stream is read")
	drainHooks(t, s)
	require.Equal(t, 0.0, s.templateListed("clinic-a", "gift")["remaining"])
}

func TestOneUserTwentyClaims(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "cash", map[string]any{"perUserLimit": 2})
	greedy := patient("clinic-a", "greedy")
	replies := s.concurrently(20, func(int) call {
		return call{fn: "coupons", route: "POST /v1/coupons/claim", as: greedy, body: `{"templateId":"cash"}`}
	})
	require.Equal(t, map[int]int{201: 2, 409: 18}, statuses(replies))
	for _, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "LIMIT_REACHED", r.Code(t))
		}
	}
	require.Len(t, s.myCoupons(greedy), 2)
	require.Len(t, s.couponItems("cash"), 2)
	require.Equal(t, 201, s.claim(patient("clinic-a", "someone-else"), "cash").Status, "the limit is per patient")
}

// A spike on one popular template: its stock is spread over many keys and
// still sells out exactly.
func TestCouponSpikeOnShardedStock(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spike")
	}
	s := newStack(t)
	const stock, claims = 500, 1000
	s.putTemplate("clinic-a", "launch", map[string]any{"stock": stock})
	shards := coupon.ShardsFor(stock)
	require.Greater(t, shards, 32)

	start := time.Now()
	replies := s.spike(claims, 64, func(i int) call {
		return call{fn: "coupons", route: "POST /v1/coupons/claim", as: patient("clinic-a", fmt.Sprintf("fan-%04d", i)), body: `{"templateId":"launch"}`,
			headers: map[string]string{"Idempotency-Key": fmt.Sprintf("tap-%04d", i)}}
	})
	took := time.Since(start)
	for _, r := range replies {
		require.Less(t, r.Status, 500, r.Body)
	}
	require.Equal(t, map[int]int{201: stock, 409: claims - stock}, statuses(replies))
	writes := 0
	for _, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "OUT_OF_STOCK", r.Code(t))
		}
		require.LessOrEqual(t, r.Calls.Reads(), 1)
		writes += r.Calls.Writes()
	}
	left := s.stockLeft("clinic-a", "launch", shards)
	for n, l := range left {
		require.Zero(t, l, "shard %d is empty, never below zero", n)
	}
	require.Len(t, s.couponItems("launch"), stock, "exactly the stock issued")
	t.Logf("%d claims on %d units over %d shards: %v, %d write calls (%.2f a claim)",
		claims, stock, shards, took.Round(time.Millisecond), writes, float64(writes)/claims)

	start = time.Now()
	drainHooks(t, s)
	t.Logf("stream drained in %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, 0.0, s.templateListed("clinic-a", "launch")["remaining"])
}

// A template that exists but cannot be claimed answers 422 NOT_CLAIMABLE
// with a message saying why (never 404: it is there); one whose window has
// not begun may be claimed ahead, its coupon valid from the window's start.
func TestClaimOfTemplatesNotClaimableNow(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	now := time.Now().UTC().Truncate(time.Second)
	s.putTemplate("clinic-a", "hook-only", map[string]any{"claimable": false})
	s.putTemplate("clinic-a", "fixed-window", map[string]any{"validDays": nil, "validTo": now.Add(time.Hour).Format(time.RFC3339)})
	s.putTemplate("clinic-a", "hook-only-window", map[string]any{"claimable": false, "validDays": nil, "validTo": now.Add(time.Hour).Format(time.RFC3339)})
	s.putTemplate("clinic-a", "next-month", map[string]any{"validDays": nil,
		"validFrom": now.Add(30 * 24 * time.Hour).Format(time.RFC3339), "validTo": now.Add(60 * 24 * time.Hour).Format(time.RFC3339)})
	tests := []struct {
		name     string
		template string
		later    time.Duration // the claim comes this long after now
		status   int
		errc     string
		message  string
	}{
		{"hook-only", "hook-only", 0, 422, "NOT_CLAIMABLE", "given by the clinic"},
		{"ended", "fixed-window", 2 * time.Hour, 422, "NOT_CLAIMABLE", "ended"},
		{"ended the moment it ends", "fixed-window", time.Hour, 422, "NOT_CLAIMABLE", "ended"},
		{"hook-only and ended", "hook-only-window", 2 * time.Hour, 422, "NOT_CLAIMABLE", "ended"},
		{"not yet started: claimed ahead", "next-month", 0, 201, "", ""},
		{"within its window", "fixed-window", 0, 201, "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.deps.Now = func() time.Time { return now.Add(tt.later) }
			defer func() { s.deps.Now = time.Now }()
			r := s.claim(patient("clinic-a", fmt.Sprintf("p%d", i)), tt.template)
			require.Equal(t, tt.status, r.Status, r.Body)
			if tt.errc == "" {
				if tt.template == "next-month" {
					require.Equal(t, now.Add(30*24*time.Hour).Format(time.RFC3339), r.JSON(t)["validFrom"], "valid from the window's start")
				}
				return
			}
			require.Equal(t, tt.errc, r.Code(t))
			require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], tt.message)
			require.Zero(t, r.Calls.Writes(), "nothing written: %v", r.Calls.Ops())
		})
	}
}

func TestClaimErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "hook-only", map[string]any{"claimable": false})
	s.putTemplate("clinic-a", "weekend", map[string]any{"validDays": nil, "validTo": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	s.putTemplate("clinic-b", "theirs", nil)
	p := patient("clinic-a", "p")
	tests := []struct {
		name   string
		body   string
		status int
		errc   string
	}{
		{"unknown", `{"templateId":"nope"}`, 404, "TEMPLATE_NOT_FOUND"},
		{"another clinic's", `{"templateId":"theirs"}`, 404, "TEMPLATE_NOT_FOUND"},
		{"hook only", `{"templateId":"hook-only"}`, 422, "NOT_CLAIMABLE"},
		{"missing id", `{}`, 400, "BAD_REQUEST"},
		{"bad id", `{"templateId":"a#b"}`, 400, "BAD_REQUEST"},
		{"not json", `templateId=x`, 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: "coupons", route: "POST /v1/coupons/claim", as: p, body: tt.body})
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.errc, r.Code(t))
		})
	}
	t.Run("window over", func(t *testing.T) {
		require.Equal(t, 201, s.claim(p, "weekend").Status)
		s.deps.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		defer func() { s.deps.Now = time.Now }()
		r := s.claim(patient("clinic-a", "late"), "weekend")
		require.Equal(t, 422, r.Status, r.Body)
		require.Equal(t, "NOT_CLAIMABLE", r.Code(t))
		mine := s.myCoupons(p)
		require.Len(t, mine, 1)
		require.Equal(t, "EXPIRED", mine[0]["status"], "computed from validity")
	})
	t.Run("no token", func(t *testing.T) {
		r := s.do(call{fn: "coupons", route: "POST /v1/coupons/claim", body: `{"templateId":"weekend"}`})
		require.Equal(t, 401, r.Status)
	})
}

func TestTwentyRedemptionsOfOneCoupon(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "cash", nil)
	holder := patient("clinic-a", "holder")
	claimed := s.claim(holder, "cash")
	require.Equal(t, 201, claimed.Status, claimed.Body)
	code := claimed.JSON(t)["couponCode"].(string)

	replies := s.concurrently(20, func(i int) call {
		return call{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": code}, as: staff("clinic-a", fmt.Sprintf("desk-%d", i))}
	})
	require.Equal(t, map[int]int{200: 1, 409: 19}, statuses(replies))
	for _, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "ALREADY_REDEEMED", r.Code(t))
			continue
		}
		body := r.JSON(t)
		require.Equal(t, code, body["couponCode"])
		require.Equal(t, "REDEEMED", body["status"])
		require.NotEmpty(t, body["redeemedAt"])
	}
	mine := s.myCoupons(holder)
	require.Len(t, mine, 1)
	require.Equal(t, "REDEEMED", mine[0]["status"])
	require.NotEmpty(t, mine[0]["redeemedAt"])
	require.Len(t, s.streamedEvents(event.CouponRedeemed), 1, "one coupon.redeemed event")
}

func TestRedeemStatuses(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	now := time.Now().UTC()
	base := coupon.Coupon{
		Tenant: "clinic-a", UserID: "holder", TemplateID: "cash", Title: "¥50 off", Kind: coupon.Cash, ValueFen: 5000,
		Status: coupon.Issued, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour), Source: coupon.FromClaim, IssuedAt: now,
	}
	with := func(code string, edit func(*coupon.Coupon)) string {
		c := base
		c.Code = code
		edit(&c)
		s.storeCoupon(c)
		return code
	}
	issued := with("AAAAAAAAA2", func(*coupon.Coupon) {})
	issuedB := with("AAAAAAAAA3", func(c *coupon.Coupon) { c.Tenant = "clinic-b" })
	expired := with("AAAAAAAAA4", func(c *coupon.Coupon) { c.ValidTo = now.Add(-time.Minute) })
	pending := with("AAAAAAAAA5", func(c *coupon.Coupon) { c.Status = coupon.Pending })
	void := with("AAAAAAAAA6", func(c *coupon.Coupon) { c.Status = coupon.Void })
	early := with("AAAAAAAAA7", func(c *coupon.Coupon) { c.ValidFrom = now.Add(time.Hour); c.ValidTo = now.Add(2 * time.Hour) })
	desk := staff("clinic-a", "desk")

	tests := []struct {
		name   string
		as     who
		code   string
		status int
		errc   string
	}{
		{"another clinic's coupon", desk, issuedB, 404, "COUPON_NOT_FOUND"},
		{"expired", desk, expired, 410, "COUPON_EXPIRED"},
		{"pending", desk, pending, 409, "COUPON_NOT_ACTIVE"},
		{"void", desk, void, 409, "COUPON_NOT_ACTIVE"},
		{"not yet valid", desk, early, 409, "COUPON_NOT_ACTIVE"},
		{"unknown", desk, "ZZZZZZZZZZ", 404, "COUPON_NOT_FOUND"},
		{"malformed", desk, "not-a-code!", 404, "COUPON_NOT_FOUND"},
		{"patient", patient("clinic-a", "holder"), issued, 403, "FORBIDDEN"},
		{"typed in lower case with a dash", desk, "aaaaa-aaaa2", 200, ""},
		{"again", staff("clinic-a", "other-desk"), issued, 409, "ALREADY_REDEEMED"},
		{"admin may redeem", couponAdmin("clinic-b"), issuedB, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.redeem(tt.as, tt.code)
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.errc, r.Code(t))
		})
	}

	statusOf := map[string]string{}
	for _, c := range s.myCoupons(patient("clinic-a", "holder")) {
		statusOf[c["couponCode"].(string)] = c["status"].(string)
	}
	require.Equal(t, map[string]string{
		issued: "REDEEMED", expired: "EXPIRED", pending: "PENDING", void: "VOID", early: "ISSUED",
	}, statusOf, "only clinic-a's coupons, each with its status")
}

func TestMyCoupons(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "cash", map[string]any{"perUserLimit": 3})
	s.putTemplate("clinic-a", "voucher", map[string]any{"kind": "VOUCHER", "valueFen": 19900, "validDays": 7})
	p := patient("clinic-a", "p")
	for _, tpl := range []string{"cash", "cash", "voucher"} {
		require.Equal(t, 201, s.claim(p, tpl).Status)
	}
	require.Equal(t, 201, s.claim(patient("clinic-a", "other"), "cash").Status)
	mine := s.myCoupons(p)
	require.Len(t, mine, 3)
	require.Equal(t, "voucher", mine[0]["templateId"], "newest first")
	v := mine[0]
	require.Equal(t, "VOUCHER", v["kind"])
	require.Equal(t, 19900.0, v["priceFen"])
	require.Equal(t, "claim", v["source"])
	require.Equal(t, "ISSUED", v["status"])
	for _, k := range []string{"couponCode", "title", "validTo", "validFrom", "issuedAt"} {
		require.NotEmpty(t, v[k], k)
	}
	from, err := time.Parse(time.RFC3339, v["validFrom"].(string))
	require.NoError(t, err)
	to, err := time.Parse(time.RFC3339, v["validTo"].(string))
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, to.Sub(from), "validDays from issue")
	require.Empty(t, s.myCoupons(patient("clinic-b", "p")), "the same user id in another clinic holds none")
}

// Each user-facing write makes one write call and at most one read; a warm
// claim is one call in all; each read route one call (docs/DESIGN.md).
func TestCouponCallBudget(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "cash", nil)
	var code string
	tests := []struct {
		name          string
		c             func() call
		reads, writes int
	}{
		{"claim, cold", func() call {
			return call{fn: "coupons", route: "POST /v1/coupons/claim", as: patient("clinic-a", "a"), body: `{"templateId":"cash"}`}
		}, 1, 1},
		{"claim, warm", func() call {
			return call{fn: "coupons", route: "POST /v1/coupons/claim", as: patient("clinic-a", "b"), body: `{"templateId":"cash"}`}
		}, 0, 1},
		{"claim over the limit", func() call {
			return call{fn: "coupons", route: "POST /v1/coupons/claim", as: patient("clinic-a", "b"), body: `{"templateId":"cash"}`}
		}, 0, 1},
		{"me", func() call { return call{fn: "coupons", route: "GET /v1/coupons/me", as: patient("clinic-a", "b")} }, 1, 0},
		{"redeem", func() call {
			return call{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": code}, as: staff("clinic-a", "desk")}
		}, 1, 1},
		{"redeem again", func() call {
			return call{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": code}, as: staff("clinic-a", "desk")}
		}, 1, 0},
		{"list templates", func() call {
			return call{fn: "coupons", route: "GET /v1/coupon-templates", query: map[string]string{"tenant": "clinic-a"}}
		}, 1, 0},
		{"list rules", func() call { return call{fn: "admin", route: "GET /v1/admin/hooks", as: couponAdmin("clinic-a")} }, 1, 0},
		{"dead letters", func() call {
			return call{fn: "admin", route: "GET /v1/admin/hooks/dead-letters", as: couponAdmin("clinic-a")}
		}, 1, 0},
		{"put rule", func() call {
			return call{fn: "admin", route: "PUT /v1/admin/hooks/{ruleId}", params: map[string]string{"ruleId": "r"}, as: couponAdmin("clinic-a"),
				body: `{"event":"coupon.redeemed","issueCoupon":{"templateId":"cash","to":"user"}}`}
		}, 1, 1},
		{"put template", func() call {
			return call{fn: "admin", route: "PUT /v1/admin/coupon-templates/{templateId}", params: map[string]string{"templateId": "cash"}, as: couponAdmin("clinic-a"), body: templateBody(nil)}
		}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(tt.c())
			require.Less(t, r.Status, 500, r.Body)
			if code == "" {
				code, _ = r.JSON(t)["couponCode"].(string)
			}
			require.Equal(t, tt.reads, r.Calls.Reads(), "reads: %v", r.Calls.Ops())
			require.Equal(t, tt.writes, r.Calls.Writes(), "writes: %v", r.Calls.Ops())
		})
	}
}

// The coupon views are the API's bytes, field for field and in order: what
// is unset is left out (remaining is null for unlimited stock), and a held
// or lapsed coupon shows its status at the moment asked.
func TestCouponViewsJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	limited := coupon.Template{
		Tenant: "t", ID: "pct", Title: "八折", Kind: coupon.Percent, PercentOff: 20, MaxOffFen: 500, MinSpendFen: 100,
		ValidFrom: at, ValidTo: at.Add(time.Hour), Stock: 10, Shards: 2, PerUserLimit: 2, Claimable: true, Issued: 3, UpdatedAt: at,
	}
	oversold := limited
	oversold.Issued = 12
	unlimited := coupon.Template{Tenant: "t", ID: "gift", Title: "上门礼", Kind: coupon.Gift, ValidDays: 3, PerUserLimit: 1}
	voucher := coupon.Coupon{
		Code: "ABC", Tenant: "t", UserID: "u", TemplateID: "trio", Title: "洁牙", Kind: coupon.Voucher, ValueFen: 100, PriceFen: 50,
		Status: coupon.Redeemed, ValidFrom: at, ValidTo: at.Add(time.Hour), Source: coupon.FromGroup, IssuedAt: at,
		RedeemedAt: at.Add(time.Minute), RedeemedBy: "staff", DealID: "trio",
	}
	lapsed := coupon.Coupon{
		Code: "DEF", TemplateID: "pct", Title: "八折", Kind: coupon.Percent, PercentOff: 10, MaxOffFen: 5, MinSpendFen: 7,
		Status: coupon.Issued, ValidFrom: at.Add(-2 * time.Hour), ValidTo: at.Add(-time.Hour), Source: coupon.FromClaim, IssuedAt: at.Add(-2 * time.Hour),
	}
	held := lapsed
	held.Status, held.ValidTo, held.Source = coupon.Pending, at.Add(time.Hour), coupon.FromReferral
	held.Hold = &coupon.Hold{Until: at.Add(time.Minute), VisitID: "v1"}
	const (
		ts  = `"2026-01-02T03:04:05.006Z"`
		ts1 = `"2026-01-02T04:04:05.006Z"`
	)
	cases := []viewCase{
		{"a limited template shows what remains", viewTemplate(limited),
			`{"templateId":"pct","title":"八折","kind":"PERCENT","percentOff":20,"maxOffFen":500,"minSpendFen":100,"validFrom":` + ts + `,"validTo":` + ts1 + `,"stock":10,"perUserLimit":2,"claimable":true,"remaining":7}`},
		{"an oversold template remains 0", viewTemplate(oversold),
			`{"templateId":"pct","title":"八折","kind":"PERCENT","percentOff":20,"maxOffFen":500,"minSpendFen":100,"validFrom":` + ts + `,"validTo":` + ts1 + `,"stock":10,"perUserLimit":2,"claimable":true,"remaining":0}`},
		{"an unlimited template remains null and leaves out its window", viewTemplate(unlimited),
			`{"templateId":"gift","title":"上门礼","kind":"GIFT","validDays":3,"stock":0,"perUserLimit":1,"claimable":false,"remaining":null}`},
		{"a claim answers the coupon's code, status and validity", viewClaimed(held),
			`{"couponCode":"DEF","templateId":"pct","status":"PENDING","validFrom":"2026-01-02T01:04:05.006Z","validTo":` + ts1 + `}`},
		{"a redemption answers when", viewRedemption(voucher),
			`{"couponCode":"ABC","status":"REDEEMED","redeemedAt":"2026-01-02T03:05:05.006Z"}`},
		{"a redeemed voucher shows its price and when", viewCoupon(voucher, at),
			`{"couponCode":"ABC","templateId":"trio","title":"洁牙","kind":"VOUCHER","status":"REDEEMED","valueFen":100,"priceFen":50,"validFrom":` + ts + `,"validTo":` + ts1 + `,"source":"group","issuedAt":` + ts + `,"redeemedAt":"2026-01-02T03:05:05.006Z"}`},
		{"an unused coupon past its validity is EXPIRED", viewCoupon(lapsed, at),
			`{"couponCode":"DEF","templateId":"pct","title":"八折","kind":"PERCENT","status":"EXPIRED","percentOff":10,"maxOffFen":5,"minSpendFen":7,"validFrom":"2026-01-02T01:04:05.006Z","validTo":"2026-01-02T02:04:05.006Z","source":"claim","issuedAt":"2026-01-02T01:04:05.006Z"}`},
		{"a held reward is PENDING", viewCoupon(held, at),
			`{"couponCode":"DEF","templateId":"pct","title":"八折","kind":"PERCENT","status":"PENDING","percentOff":10,"maxOffFen":5,"minSpendFen":7,"validFrom":"2026-01-02T01:04:05.006Z","validTo":` + ts1 + `,"source":"referral","issuedAt":"2026-01-02T01:04:05.006Z"}`},
	}
	requireViewBytes(t, cases)
}
