package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
)

// keyedRoute is a write route whose Idempotency-Key record is written with
// its own write, with what a test needs to exercise it on a fresh stack.
type keyedRoute struct {
	name string
	// setup prepares the stack and returns the route's requests.
	setup func(s *stack) keyedCalls
}

type keyedCalls struct {
	// mk is the route's request by party i (a user, a coupon, ...), each
	// one succeeding once; other is the same party's request with another
	// body or path, which would also succeed.
	mk, other func(i int) call
	// effects counts what the route did (its events, its items).
	effects func() int
	// alone: the route's unkeyed write is a single PutItem or UpdateItem,
	// which a keyed request makes a transaction with the key's record.
	alone bool
}

// keyedOps is the calls a keyed request makes where an unkeyed one makes
// ops: the same, but a write made alone is a transaction with the key's
// record.
func keyedOps(ops []string, alone bool) []string {
	if !alone {
		return ops
	}
	out := make([]string, len(ops))
	for i, op := range ops {
		if op == "PutItem" || op == "UpdateItem" {
			op = "TransactWriteItems"
		}
		out[i] = op
	}
	return out
}

func keyedRoutes() []keyedRoute {
	return []keyedRoute{
		{"join", func(s *stack) keyedCalls {
			s.deal("clinic-a", "big", map[string]any{"groupSize": 10, "stock": 1000, "perUserLimit": 5})
			roomA := s.opened(patient("clinic-a", "leader-a"), "big")
			roomB := s.opened(patient("clinic-a", "leader-b"), "big")
			join := func(room string, i int) call {
				return call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: patient("clinic-a", fmt.Sprintf("u%d", i)),
					params: map[string]string{"groupId": room}}
			}
			return keyedCalls{
				mk:      func(i int) call { return join(roomA, i) },
				other:   func(i int) call { return join(roomB, i) },
				effects: func() int { return len(s.events(event.GroupJoined)) },
			}
		}},
		{"open", func(s *stack) keyedCalls {
			s.deal("clinic-a", "duo", nil)
			s.deal("clinic-a", "trio", map[string]any{"groupSize": 3})
			open := func(deal string, i int) call {
				return call{fn: "groupbuy", route: "POST /v1/groups", as: patient("clinic-a", fmt.Sprintf("u%d", i)),
					body: fmt.Sprintf(`{"dealId":%q}`, deal)}
			}
			return keyedCalls{
				mk:      func(i int) call { return open("duo", i) },
				other:   func(i int) call { return open("trio", i) },
				effects: func() int { return len(s.events(event.GroupOpened)) },
			}
		}},
		{"claim", func(s *stack) keyedCalls {
			s.putTemplate("clinic-a", "gift", nil)
			s.putTemplate("clinic-a", "other-gift", nil)
			claim := func(tpl string, i int) call {
				return call{fn: "coupons", route: "POST /v1/coupons/claim", as: patient("clinic-a", fmt.Sprintf("u%d", i)),
					body: fmt.Sprintf(`{"templateId":%q}`, tpl)}
			}
			return keyedCalls{
				mk:      func(i int) call { return claim("gift", i) },
				other:   func(i int) call { return claim("other-gift", i) },
				effects: func() int { return len(s.events(event.CouponIssued)) },
			}
		}},
		{"redeem", func(s *stack) keyedCalls {
			s.putTemplate("clinic-a", "gift", nil)
			codes := map[int]string{}
			codeOf := func(i int) string {
				if codes[i] == "" {
					r := s.claim(patient("clinic-a", fmt.Sprintf("u%d", i)), "gift")
					require.Equal(s.t, 201, r.Status, r.Body)
					codes[i] = r.JSON(s.t)["couponCode"].(string)
				}
				return codes[i]
			}
			for i := range 8 {
				codeOf(i) // claimed before any request is measured
				codeOf(100 + i)
			}
			redeem := func(code string) call {
				return call{fn: "coupons", route: "POST /v1/staff/coupons/{couponCode}/redeem", as: staff("clinic-a", "desk"),
					params: map[string]string{"couponCode": code}}
			}
			return keyedCalls{
				mk:      func(i int) call { return redeem(codeOf(i)) },
				other:   func(i int) call { return redeem(codeOf(100 + i)) },
				effects: func() int { return len(s.events(event.CouponRedeemed)) },
			}
		}},
		{"bind", func(s *stack) keyedCalls {
			alice := s.codeOf(patient("clinic-a", "alice"))
			zoe := s.codeOf(patient("clinic-a", "zoe"))
			bind := func(code string, i int) call {
				return call{fn: "referral", route: "POST /v1/referral/bind", as: patient("clinic-a", fmt.Sprintf("u%d", i)),
					body: fmt.Sprintf(`{"code":%q}`, code)}
			}
			return keyedCalls{
				mk:      func(i int) call { return bind(alice, i) },
				other:   func(i int) call { return bind(zoe, i) },
				effects: func() int { return len(s.events(event.ReferralBound)) },
			}
		}},
		{"visit", func(s *stack) keyedCalls { return visitCalls(s, "") }},
		// The referrer's role record says staff: the qualifying write is
		// cancelled on its check and written again without that reward; the
		// key's record goes with the write that commits.
		{"visit, referrer granted staff", func(s *stack) keyedCalls { return visitCalls(s, auth.Staff) }},
		{"referral code", func(s *stack) keyedCalls {
			// The route takes no body; another body is another request.
			code := func(body string, i int) call {
				return call{fn: "referral", route: "POST /v1/referral/code", as: patient("clinic-a", fmt.Sprintf("u%d", i)), body: body}
			}
			return keyedCalls{
				mk:      func(i int) call { return code("", i) },
				other:   func(i int) call { return code("{}", i) },
				effects: s.codes,
			}
		}},
		{"link open", func(s *stack) keyedCalls {
			alice := s.codeOf(patient("clinic-a", "alice"))
			zoe := s.codeOf(patient("clinic-a", "zoe"))
			// Public: no caller, so every party is the same anonymous one.
			open := func(code string) call {
				return call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": code}}
			}
			return keyedCalls{
				mk:      func(int) call { return open(alice) },
				other:   func(int) call { return open(zoe) },
				effects: func() int { return s.countPK("OPEN#") },
			}
		}},
		{"refund", func(s *stack) keyedCalls {
			for i := range 8 {
				s.visited(fmt.Sprintf("v%d", i), patient("clinic-a", fmt.Sprintf("u%d", i)))
				s.visited(fmt.Sprintf("v%d", 100+i), patient("clinic-a", fmt.Sprintf("u%d", 100+i)))
			}
			refund := func(visit int) call {
				return call{fn: "referral", route: "POST /v1/staff/visits/{visitId}/refund", as: staff("clinic-a", "desk"),
					params: map[string]string{"visitId": fmt.Sprintf("v%d", visit)}}
			}
			return keyedCalls{
				mk:      func(i int) call { return refund(i) },
				other:   func(i int) call { return refund(100 + i) },
				effects: func() int { return s.countItems("kind", "visit", "refundedAt") },
			}
		}},
		{"settings", func(s *stack) keyedCalls {
			settings := func(body string, i int) call {
				return call{fn: s.referralAdminFn(), route: "PUT /v1/admin/settings", as: admin(fmt.Sprintf("clinic-%d", i)), body: body}
			}
			return keyedCalls{
				mk:      func(i int) call { return settings(`{"bindingWindowDays":30}`, i) },
				other:   func(i int) call { return settings(`{"bindingWindowDays":14}`, i) },
				effects: func() int { return s.countItems("kind", "settings", "pk") },
				alone:   true,
			}
		}},
		{"deal", func(s *stack) keyedCalls {
			deal := func(stock, i int) call {
				return call{fn: "admin", route: "PUT /v1/admin/deals/{dealId}", as: admin("clinic-a"),
					params: map[string]string{"dealId": fmt.Sprintf("d%d", i)}, body: dealBody(map[string]any{"stock": stock})}
			}
			return keyedCalls{
				mk:      func(i int) call { return deal(100, i) },
				other:   func(i int) call { return deal(50, i) },
				effects: func() int { return s.countItems("kind", "deal", "pk") },
			}
		}},
		{"coupon template", func(s *stack) keyedCalls {
			template := func(stock, i int) call {
				return call{fn: "admin", route: "PUT /v1/admin/coupon-templates/{templateId}", as: admin("clinic-a"),
					params: map[string]string{"templateId": fmt.Sprintf("t%d", i)}, body: templateBody(map[string]any{"stock": stock})}
			}
			return keyedCalls{
				mk:      func(i int) call { return template(100, i) },
				other:   func(i int) call { return template(200, i) },
				effects: func() int { return s.countItems("kind", "couponTemplate", "pk") },
			}
		}},
		{"hook rule", func(s *stack) keyedCalls {
			s.putTemplate("clinic-a", "thanks", map[string]any{"claimable": false})
			rule := func(to string, i int) call {
				return call{fn: "admin", route: "PUT /v1/admin/hooks/{ruleId}", as: admin("clinic-a"),
					params: map[string]string{"ruleId": fmt.Sprintf("r%d", i)},
					body:   fmt.Sprintf(`{"event":"referral.qualified","issueCoupon":{"templateId":"thanks","to":%q}}`, to)}
			}
			return keyedCalls{
				mk:      func(i int) call { return rule("referrer", i) },
				other:   func(i int) call { return rule("referee", i) },
				effects: func() int { return s.countItems("kind", "hookRule", "pk") },
				alone:   true,
			}
		}},
		{"wechat app", func(s *stack) keyedCalls {
			app := func(env string, i int) call {
				return call{fn: "admin", route: "PUT /v1/admin/wechat", as: admin(fmt.Sprintf("clinic-%d", i)),
					body: fmt.Sprintf(`{"appId":%q,"appSecret":%q,"envVersion":%q}`, testAppID, testAppSecret, env)}
			}
			return keyedCalls{
				mk:      func(i int) call { return app("release", i) },
				other:   func(i int) call { return app("trial", i) },
				effects: func() int { return s.countItems("kind", "wechatApp", "pk") },
				alone:   true,
			}
		}},
		{"role", func(s *stack) keyedCalls {
			grant := func(role string, i int) call {
				return call{fn: "admin", route: "PUT /v1/admin/roles/{userId}", as: admin("clinic-a"),
					params: map[string]string{"userId": fmt.Sprintf("u%d", i)}, body: fmt.Sprintf(`{"role":%q}`, role)}
			}
			return keyedCalls{
				mk:      func(i int) call { return grant("staff", i) },
				other:   func(i int) call { return grant("admin", i) },
				effects: func() int { return s.countItems("kind", "role", "grantedAt") },
				alone:   true,
			}
		}},
		{"sign-in", func(s *stack) keyedCalls {
			s.withApp("clinic-a")
			// A wx.login code is spent by its first use: a repeat sends the
			// same one, which WeChat then refuses.
			code := spentOnce([]string{"first", "other"}, func(_ string, i int) string {
				return s.wechat.LoginCode(testAppID, fmt.Sprintf("openid-%d", i), "")
			})
			signIn := func(attempt string, i int) call {
				return call{fn: "auth", route: "POST /v1/auth/wechat", body: fmt.Sprintf(`{"tenant":"clinic-a","code":%q}`, code(attempt, i))}
			}
			return keyedCalls{
				mk:      func(i int) call { return signIn("first", i) },
				other:   func(i int) call { return signIn("other", i) },
				effects: func() int { return s.countItems("kind", "wechatOpenId", "pk") },
				alone:   true,
			}
		}},
		{"phone", func(s *stack) keyedCalls {
			s.withApp("clinic-a")
			code := spentOnce([]string{"13812345678", "13987654321"}, func(number string, _ int) string {
				return s.wechat.PhoneCode(testAppID, number)
			})
			bindPhone := func(number string, i int) call {
				return call{fn: "auth", route: "POST /v1/me/phone", as: patient("clinic-a", fmt.Sprintf("u%d", i)),
					body: fmt.Sprintf(`{"code":%q}`, code(number, i))}
			}
			return keyedCalls{
				mk:      func(i int) call { return bindPhone("13812345678", i) },
				other:   func(i int) call { return bindPhone("13987654321", i) },
				effects: func() int { return s.countItems("kind", "profile", "phoneHash") },
			}
		}},
	}
}

// spentOnce hands out one WeChat code per variant and party, made by mk on
// first ask (parties 0 to 7 of every variant before any request runs): a
// code is spent by its first use, so a repeat of a request sends the same
// one.
func spentOnce(variants []string, mk func(variant string, i int) string) func(variant string, i int) string {
	type party struct {
		variant string
		i       int
	}
	codes := map[party]string{}
	code := func(variant string, i int) string {
		p := party{variant, i}
		if codes[p] == "" {
			codes[p] = mk(variant, i)
		}
		return codes[p]
	}
	for i := range 8 {
		for _, v := range variants {
			code(v, i)
		}
	}
	return code
}

// visitCalls report the qualifying visits of newcomers bound to a referrer
// whose role record, when referrerRole is set, is that role.
func visitCalls(s *stack, referrerRole auth.Role) keyedCalls {
	referrer := patient("clinic-a", "alice")
	for i := range 8 {
		s.referralBound(referrer, fmt.Sprintf("u%d", i))
	}
	if referrerRole != "" {
		require.NoError(s.t, dynamo.RoleStore{Store: s.deps.Store}.SetRole(context.Background(), "clinic-a", "alice", referrerRole))
	}
	visit := func(visitID string, i int) call {
		return call{fn: "referral", route: "POST /v1/staff/visits", as: staff("clinic-a", "desk"),
			body: fmt.Sprintf(`{"visitId":%q,"userId":"u%d","kind":"treatment","amountFen":19900}`, visitID, i)}
	}
	return keyedCalls{
		mk:      func(i int) call { return visit(fmt.Sprintf("V%d", i), i) },
		other:   func(i int) call { return visit(fmt.Sprintf("W%d", i), i) },
		effects: func() int { return len(s.events(event.ReferralQualified)) },
	}
}

// codes counts the referral codes made (their CODE# items; each has a
// copy under its owner too).
func (s *stack) codes() int { return s.countPK("CODE#") }

// countPK counts the table's items whose partition key starts with prefix.
func (s *stack) countPK(prefix string) int {
	return s.countWhere(func(item map[string]types.AttributeValue) bool {
		return strings.HasPrefix(str(item, "pk"), prefix)
	})
}

// countItems counts the items whose attribute attr is value and that have
// the attribute has.
func (s *stack) countItems(attr, value, has string) int {
	return s.countWhere(func(item map[string]types.AttributeValue) bool {
		_, ok := item[has]
		return ok && str(item, attr) == value
	})
}

// countWhere counts the table's items that keep holds for.
func (s *stack) countWhere(keep func(map[string]types.AttributeValue) bool) int {
	n := 0
	for _, item := range s.scan() {
		if keep(item) {
			n++
		}
	}
	return n
}

func withKey(c call, key string) call {
	c.headers = map[string]string{"Idempotency-Key": key}
	return c
}

// A keyed write makes the same DynamoDB calls as an unkeyed one (its key
// record is one more item of its own write), a repeat answers the first
// status and body byte for byte without doing the work again, and the key
// with another request is IDEMPOTENCY_KEY_REUSED.
func TestKeyedWriteIsTheRouteWrite(t *testing.T) {
	t.Parallel()
	for _, rt := range keyedRoutes() {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, ddbtest.WithoutStream())
			c := rt.setup(s)
			warm := s.do(c.mk(0)) // caches filled as in a warm function
			require.Less(t, warm.Status, 300, warm.Body)

			bare := s.do(c.mk(1))
			require.Less(t, bare.Status, 300, bare.Body)
			before := c.effects()
			first := s.do(withKey(c.mk(2), "k-2"))
			require.Less(t, first.Status, 300, first.Body)
			require.Equal(t, keyedOps(bare.Calls.Ops(), c.alone), first.Calls.Ops(), "a keyed write makes the calls of an unkeyed one")
			require.Equal(t, before+1, c.effects())
			require.Empty(t, first.Headers["idempotent-replayed"])

			again := s.do(withKey(c.mk(2), "k-2"))
			require.Equal(t, first.Status, again.Status, again.Body)
			require.Equal(t, first.Body, again.Body, "the first answer, byte for byte")
			require.Equal(t, "true", again.Headers["idempotent-replayed"])
			require.LessOrEqual(t, again.Calls.Writes(), 1, again.Calls.Ops())
			require.Equal(t, before+1, c.effects(), "the work is done once")

			reused := s.do(withKey(c.other(2), "k-2"))
			require.Equal(t, 422, reused.Status, reused.Body)
			require.Equal(t, "IDEMPOTENCY_KEY_REUSED", reused.Code(t))
			require.Equal(t, before+1, c.effects(), "nothing done for the reused key")
		})
	}
}

// Fifty identical keyed requests at once: the work is done once, and every
// answer is the first response or its replay, byte for byte.
func TestKeyedWriteConcurrentRepeats(t *testing.T) {
	t.Parallel()
	for _, rt := range keyedRoutes() {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, ddbtest.WithoutStream())
			c := rt.setup(s)
			before := c.effects()
			replies := s.concurrently(50, func(int) call { return withKey(c.mk(7), "same-key") })
			require.Equal(t, before+1, c.effects(), "one effect for fifty repeats")
			fresh := 0
			for _, r := range replies {
				require.Less(t, r.Status, 300, r.Body)
				require.Equal(t, replies[0].Body, r.Body, "every answer is the first one")
				if r.Headers["idempotent-replayed"] != "true" {
					fresh++
				}
			}
			require.GreaterOrEqual(t, fresh, 1, "one request did the work")
		})
	}
}
