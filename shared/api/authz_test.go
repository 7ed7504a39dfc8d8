package api

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/auth"
)

// The authorization matrix: every route × caller (none, patient, staff,
// admin) × tenant (the record's own, another). The routes come from the
// functions themselves, so a new route without an entry here fails.
//
// What is expected follows from the route's access level and one column per
// route for another tenant's caller: a route that names a record of tenant
// A answers 404 to tenant B (as if it did not exist); a route acting on the
// caller's own data answers as it would for A, on B's data, never A's.

const (
	tenantA = "clinic-a"
	tenantB = "clinic-b"
)

// authzCase is one route's request, built fresh for each cell of the
// matrix (so a write in one cell never changes another's answer), made
// against records of tenantA.
type authzCase struct {
	ok    int // status for an allowed caller of tenant A
	other int // status for an allowed caller of tenant B
	// staffAnswer overrides ok and other for staff and admin callers of a
	// patient route whose rules refuse clinic accounts.
	staffAnswer int
	request     func(f *authzFixture) call // the request, its records created in tenantA
	// leaks checks, for an allowed tenant-B caller, that the body shows
	// nothing of tenant A's.
	leaks func(t *testing.T, f *authzFixture, req call, body string)
}

// authzFixture makes tenant A's records for one cell.
type authzFixture struct {
	s      *stack
	t      *testing.T
	caller who // the cell's caller (nil: none), whose user id acts
}

func (f *authzFixture) unique(prefix string) string {
	return prefix + "-" + uuid.NewString()[:8]
}

// template creates a claimable template of tenant A.
func (f *authzFixture) template() string {
	id := f.unique("tpl")
	f.s.putTemplate(tenantA, id, map[string]any{"stock": 100})
	return id
}

// coupon issues a coupon of tenant A to a patient of A.
func (f *authzFixture) coupon() string {
	r := f.s.claim(patient(tenantA, f.unique("holder")), f.template())
	require.Equal(f.t, http.StatusCreated, r.Status, r.Body)
	return r.JSON(f.t)["couponCode"].(string)
}

// deal creates an active deal of tenant A.
func (f *authzFixture) deal() string {
	id := f.unique("deal")
	f.s.deal(tenantA, id, map[string]any{"stock": 100, "groupSize": 3})
	return id
}

// room opens a room of tenant A led by someone else.
func (f *authzFixture) room() string {
	return f.s.opened(patient(tenantA, f.unique("leader")), f.deal())
}

// visit is a treatment recorded at tenant A's front desk.
func (f *authzFixture) visit() string {
	id := f.unique("visit")
	r := f.s.do(call{fn: "referral", route: "POST /v1/staff/visits", as: staff(tenantA, "desk"),
		body: fmt.Sprintf(`{"visitId":%q,"userId":%q,"kind":"treatment","amountFen":500000}`, id, f.unique("patient"))})
	require.Equal(f.t, http.StatusOK, r.Status, r.Body)
	return id
}

// code is a referral code of a patient of tenant A.
func (f *authzFixture) code() string {
	r := f.s.do(call{fn: "referral", route: "POST /v1/referral/code", as: patient(tenantA, f.unique("referrer"))})
	require.Equal(f.t, http.StatusOK, r.Status, r.Body)
	return r.JSON(f.t)["code"].(string)
}

var authzCases = map[string]authzCase{
	// Clinic accounts neither refer nor are referred (REFERRER_NOT_ELIGIBLE,
	// NOT_A_NEW_PATIENT): the route lets them in, the referral rules refuse.
	"POST /v1/referral/code": {ok: 200, other: 200, staffAnswer: 422, request: func(f *authzFixture) call {
		return call{route: "POST /v1/referral/code"}
	}},
	"GET /v1/r/{code}": {ok: 200, other: 200, request: func(f *authzFixture) call {
		// Public: a code is a share link anyone may open; it names its clinic.
		return call{route: "GET /v1/r/{code}", params: map[string]string{"code": f.code()}}
	}},
	"POST /v1/r/{code}/open": {ok: 204, other: 204, request: func(f *authzFixture) call {
		// Public: the page a share link opens reports it, signed in or not.
		return call{route: "POST /v1/r/{code}/open", params: map[string]string{"code": f.code()}}
	}},
	"POST /v1/referral/bind": {ok: 200, other: 404, staffAnswer: 422, request: func(f *authzFixture) call {
		return call{route: "POST /v1/referral/bind", body: fmt.Sprintf(`{"code":%q}`, f.code())}
	}},
	"GET /v1/referral/me": {ok: 200, other: 200, request: func(f *authzFixture) call {
		f.code()
		return call{route: "GET /v1/referral/me"}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.Contains(t, body, `"referrals":[]`)
	}},
	"GET /v1/coupon-templates": {ok: 200, other: 200, request: func(f *authzFixture) call {
		f.template()
		tenant := tenantA
		if f.caller != nil && f.caller["tenant"] == tenantB {
			tenant = tenantB // the public list takes the clinic from the query
		}
		return call{route: "GET /v1/coupon-templates", query: map[string]string{"tenant": tenant}}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.JSONEq(t, `{"templates":[]}`, body)
	}},
	"POST /v1/coupons/claim": {ok: 201, other: 404, request: func(f *authzFixture) call {
		return call{route: "POST /v1/coupons/claim", body: fmt.Sprintf(`{"templateId":%q}`, f.template())}
	}},
	"GET /v1/coupons/me": {ok: 200, other: 200, request: func(f *authzFixture) call {
		f.coupon()
		return call{route: "GET /v1/coupons/me"}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.JSONEq(t, `{"coupons":[]}`, body)
	}},
	"POST /v1/staff/coupons/{couponCode}/redeem": {ok: 200, other: 404, request: func(f *authzFixture) call {
		return call{route: "POST /v1/staff/coupons/{couponCode}/redeem", params: map[string]string{"couponCode": f.coupon()}}
	}},
	"GET /v1/deals": {ok: 200, other: 200, request: func(f *authzFixture) call {
		f.deal()
		tenant := tenantA
		if f.caller != nil && f.caller["tenant"] == tenantB {
			tenant = tenantB
		}
		return call{route: "GET /v1/deals", query: map[string]string{"tenant": tenant}}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.JSONEq(t, `{"deals":[]}`, body)
	}},
	"GET /v1/deals/{dealId}": {ok: 200, other: 404, request: func(f *authzFixture) call {
		tenant := tenantA
		if f.caller != nil && f.caller["tenant"] == tenantB {
			tenant = tenantB
		}
		return call{route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": f.deal()}, query: map[string]string{"tenant": tenant}}
	}},
	"POST /v1/groups": {ok: 201, other: 404, request: func(f *authzFixture) call {
		return call{route: "POST /v1/groups", body: fmt.Sprintf(`{"dealId":%q}`, f.deal())}
	}},
	"GET /v1/groups/{groupId}": {ok: 200, other: 200, request: func(f *authzFixture) call {
		// Public: a room is what a WeChat share link opens.
		return call{route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": f.room()}}
	}},
	"POST /v1/groups/{groupId}/join": {ok: 200, other: 404, request: func(f *authzFixture) call {
		return call{route: "POST /v1/groups/{groupId}/join", params: map[string]string{"groupId": f.room()}}
	}},
	"PUT /v1/admin/coupon-templates/{templateId}": {ok: 200, other: 200, request: func(f *authzFixture) call {
		// Ids an admin chooses are per tenant: B's admin writes B's own template.
		return call{route: "PUT /v1/admin/coupon-templates/{templateId}", params: map[string]string{"templateId": f.template()},
			body: templateBody(map[string]any{"title": "overwritten"})}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		listed := f.s.templateListed(tenantA, req.params["templateId"])
		require.NotEqual(t, "overwritten", listed["title"], "A's template was changed by B")
	}},
	"PUT /v1/admin/deals/{dealId}": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": f.deal()},
			body: dealBody(map[string]any{"title": "overwritten"})}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		r := f.s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: req.params, query: map[string]string{"tenant": tenantA}})
		require.Equal(t, http.StatusOK, r.Status)
		require.NotEqual(t, "overwritten", r.JSON(t)["title"], "A's deal was changed by B")
	}},
	// B's rule cannot name A's template: TEMPLATE_NOT_FOUND.
	"PUT /v1/admin/hooks/{ruleId}": {ok: 200, other: 404, request: func(f *authzFixture) call {
		return call{route: "PUT /v1/admin/hooks/{ruleId}", params: map[string]string{"ruleId": f.unique("rule")},
			body: fmt.Sprintf(`{"event":"coupon.redeemed","issueCoupon":{"templateId":%q,"to":"user"}}`, f.template())}
	}},
	"GET /v1/admin/hooks": {ok: 200, other: 200, request: func(f *authzFixture) call {
		r := f.s.do(call{fn: "admin", route: "PUT /v1/admin/hooks/{ruleId}", as: admin(tenantA), params: map[string]string{"ruleId": "a-only"},
			body: fmt.Sprintf(`{"event":"coupon.redeemed","issueCoupon":{"templateId":%q,"to":"user"}}`, f.template())})
		require.Equal(f.t, http.StatusOK, r.Status, r.Body)
		return call{route: "GET /v1/admin/hooks"}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.NotContains(t, body, "a-only")
	}},
	"GET /v1/admin/hooks/dead-letters": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "GET /v1/admin/hooks/dead-letters"}
	}},
	// Visits name a patient by the clinic's own user id: another clinic's
	// staff records a visit in their own clinic, never in A's.
	"POST /v1/staff/visits": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "POST /v1/staff/visits",
			body: fmt.Sprintf(`{"visitId":%q,"userId":%q,"kind":"arrival"}`, f.unique("visit"), f.unique("patient"))}
	}},
	"POST /v1/staff/visits/{visitId}/refund": {ok: 200, other: 404, request: func(f *authzFixture) call {
		return call{route: "POST /v1/staff/visits/{visitId}/refund", params: map[string]string{"visitId": f.visit()}}
	}},
	"GET /v1/admin/stats": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "GET /v1/admin/stats"}
	}},
	"GET /v1/admin/settings": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "GET /v1/admin/settings"}
	}},
	"PUT /v1/admin/settings": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "PUT /v1/admin/settings", body: `{"holdDays":7,"bindingWindowDays":30}`}
	}},
	// The caller's own code: clinic accounts have none (CODE_NOT_FOUND); B's
	// patient has one in B, which has no mini-program.
	"GET /v1/referral/code/image": {ok: 200, other: 404, staffAnswer: 404, request: func(f *authzFixture) call {
		f.s.withApp(tenantA)
		if f.caller != nil && f.caller["role"] == "patient" {
			r := f.s.do(call{fn: "referral", route: "POST /v1/referral/code", as: f.caller})
			require.Equal(f.t, http.StatusOK, r.Status, r.Body)
		}
		return call{route: "GET /v1/referral/code/image"}
	}},
	// Public: a room's code is what its share shows. A page names its
	// clinic in ?tenant= (here the caller's), and B's page never shows
	// A's room's code.
	"GET /v1/groups/{groupId}/image": {ok: 200, other: 404, request: func(f *authzFixture) call {
		f.s.withApp(tenantA)
		var query map[string]string
		if f.caller != nil {
			query = map[string]string{"tenant": f.caller["tenant"]}
		}
		return call{route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": f.room()}, query: query}
	}},
	// Public: the clinic is in the body, and any token is ignored.
	"POST /v1/auth/wechat": {ok: 200, other: 200, request: func(f *authzFixture) call {
		f.s.withApp(tenantA)
		return call{route: "POST /v1/auth/wechat",
			body: fmt.Sprintf(`{"tenant":%q,"code":%q}`, tenantA, f.s.wechat.LoginCode(testAppID, f.unique("openid"), ""))}
	}},
	"GET /.well-known/openid-configuration": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "GET /.well-known/openid-configuration"}
	}},
	"GET /.well-known/jwks.json": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "GET /.well-known/jwks.json"}
	}},
	// B's patient is B's: B has no mini-program, A's is not used for them.
	"POST /v1/me/phone": {ok: 200, other: 404, request: func(f *authzFixture) call {
		f.s.withApp(tenantA)
		return call{route: "POST /v1/me/phone", body: fmt.Sprintf(`{"code":%q}`, f.s.wechat.PhoneCode(testAppID, "13800000000"))}
	}},
	"GET /v1/admin/wechat": {ok: 200, other: 404, request: func(f *authzFixture) call {
		f.s.withApp(tenantA)
		return call{route: "GET /v1/admin/wechat"}
	}},
	"PUT /v1/admin/wechat": {ok: 200, other: 200, request: func(f *authzFixture) call {
		f.s.withApp(tenantA)
		return call{route: "PUT /v1/admin/wechat", body: `{"appId":"wxbbbbbbbbbbbbbbbb","appSecret":"other"}`}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		r := f.s.do(call{fn: "admin", route: "GET /v1/admin/wechat", as: admin(tenantA)})
		require.Contains(t, r.Body, testAppID, "A's mini-program was changed by B")
	}},
	// Ids of users are per tenant: B's admin grants B's user, never A's.
	"PUT /v1/admin/roles/{userId}": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "PUT /v1/admin/roles/{userId}", params: map[string]string{"userId": f.unique("user")}, body: `{"role":"staff"}`}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.Empty(t, f.s.rawItem("T#"+tenantA+"#U#"+req.params["userId"], "ROLE"), "B granted a role in A")
	}},
	// The caller's own data: B's caller sees B's, never what A holds about
	// a user of the same id.
	"GET /v1/me/data": {ok: 200, other: 200, request: func(f *authzFixture) call {
		if f.caller != nil {
			r := f.s.claim(patient(tenantA, f.caller["sub"]), f.template())
			require.Equal(f.t, http.StatusCreated, r.Status, r.Body)
		}
		return call{route: "GET /v1/me/data"}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.Contains(t, body, `"coupons":[]`)
		require.NotContains(t, body, tenantA)
	}},
	// A patient erases only themselves: the token names whom.
	"DELETE /v1/me": {ok: 200, other: 200, request: func(f *authzFixture) call {
		return call{route: "DELETE /v1/me"}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.NotEmpty(t, f.s.rawItem("T#"+tenantB+"#U#"+f.caller["sub"], "ERASED"), "B's caller was erased in B")
	}},
	// Only the clinic's admin erases a patient; another clinic finds no such user.
	"DELETE /v1/admin/users/{userId}": {ok: 200, other: 404, request: func(f *authzFixture) call {
		holder := patient(tenantA, f.unique("holder"))
		r := f.s.claim(holder, f.template())
		require.Equal(f.t, http.StatusCreated, r.Status, r.Body)
		return call{route: "DELETE /v1/admin/users/{userId}", params: map[string]string{"userId": holder["sub"]}}
	}, leaks: func(t *testing.T, f *authzFixture, req call, body string) {
		require.Empty(t, f.s.rawItem("T#"+tenantA+"#U#"+req.params["userId"], "ERASED"), "B erased a patient of A")
	}},
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	routes := map[string]auth.Access{}
	fnOf := map[string]string{}
	for fn, a := range newStack(t, ddbtest.WithoutStream()).apis {
		for _, r := range a.Routes() {
			routes[r.Key], fnOf[r.Key] = r.Access, fn
		}
	}
	var keys []string
	for k := range routes {
		keys = append(keys, k)
		require.Contains(t, authzCases, k, "route %s has no entry in the authorization matrix", k)
	}
	for k := range authzCases {
		require.Contains(t, routes, k, "the matrix has an entry for %s, which no function serves", k)
	}
	sort.Strings(keys)

	callers := []struct {
		name string
		as   func(tenant, user string) who
	}{
		{"none", nil},
		{"patient", patient},
		{"staff", staff},
		{"admin", func(tenant, user string) who { return who{"sub": user, "tenant": tenant, "role": "admin"} }},
	}
	// Each route's cells run one after another over a table of the route's
	// own; the routes run side by side.
	for _, key := range keys {
		c := authzCases[key]
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, ddbtest.WithoutStream())
			for _, caller := range callers {
				for _, tenant := range []string{tenantA, tenantB} {
					if caller.as == nil && tenant == tenantB {
						continue // no token has no tenant
					}
					t.Run(caller.name+"/"+tenant, func(t *testing.T) {
						f := &authzFixture{s: s, t: t}
						var as who
						if caller.as != nil {
							as = caller.as(tenant, "caller-"+caller.name)
							f.caller = as
						}
						req := c.request(f)
						req.fn, req.as = fnOf[key], as
						want := expectedStatus(routes[key], caller.name, tenant == tenantA, c)
						r := s.do(req)
						require.Equal(t, want, r.Status, r.Body)
						if tenant == tenantB && want == c.other && c.leaks != nil {
							c.leaks(t, f, req, r.Body)
						}
					})
				}
			}
		})
	}
}

// expectedStatus is the rule of the matrix.
func expectedStatus(access auth.Access, caller string, ownTenant bool, c authzCase) int {
	allowed := map[auth.Access]map[string]bool{
		auth.Public:    {"none": true, "patient": true, "staff": true, "admin": true},
		auth.AnyUser:   {"patient": true, "staff": true, "admin": true},
		auth.StaffOnly: {"staff": true, "admin": true},
		auth.AdminOnly: {"admin": true},
	}[access]
	switch {
	case caller == "none" && !allowed["none"]:
		return http.StatusUnauthorized
	case !allowed[caller]:
		return http.StatusForbidden
	case !ownTenant && c.other == http.StatusNotFound:
		return c.other // another clinic's record does not exist for the caller
	case c.staffAnswer != 0 && caller != "patient":
		return c.staffAnswer
	case ownTenant:
		return c.ok
	default:
		return c.other
	}
}
