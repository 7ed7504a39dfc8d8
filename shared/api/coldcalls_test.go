package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/wechatstub"
)

// A bind or a visit that finds no tenant settings cached reads them with
// its own read, in one call: one read and one write however cold.
func TestColdReferralWritesReadOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.settings("clinic-a", `{"bindingWindowDays":30}`)
	s.deps.Settings.TTL = 0 // nothing cached is ever fresh: every request is cold
	alice, bob := patient("clinic-a", "alice"), patient("clinic-a", "bob")
	code := s.codeOf(alice)

	tests := []struct {
		name string
		do   func() reply
		ok   int
	}{
		{"bind", func() reply { return s.bind(bob, code) }, 200},
		{"a visit that qualifies", func() reply { return s.visit("clinic-a", "HIS-1", bob, "arrival", 0) }, 200},
	}
	for _, tt := range tests {
		r := tt.do()
		require.Equal(t, tt.ok, r.Status, r.Body)
		require.Equal(t, 1, r.Calls.Reads(), "%s: %v", tt.name, r.Calls.Ops())
		require.Equal(t, 1, r.Calls.Writes(), "%s: %v", tt.name, r.Calls.Ops())
	}
	require.Equal(t, []string{"QUALIFIED"}, s.stages(alice), "the settings read with the binding applied")
}

// The public pages a share link opens read one item warm (the tenant's
// settings, for the clinic's profile, come from the cache) and write
// nothing; cold they read the settings too, since the code or room alone
// names its tenant. Counting an open is one write and no read.
func TestShareLinkPagesCalls(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	s.settings("clinic-a", `{"clinic":{"name":"悦颜医疗美容门诊部","phone":"021-62880000"}}`)
	code := s.codeOf(patient("clinic-a", "alice"))
	s.deal("clinic-a", "duo", map[string]any{"stock": 10, "groupSize": 2})
	room := s.opened(patient("clinic-a", "bob"), "duo")

	landing := call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": code}}
	roomView := call{fn: "groupbuy", route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": room}}
	open := call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": code}}
	ofClinic := func(c call) call { c.query = map[string]string{"tenant": "clinic-a"}; return c }
	tests := []struct {
		name          string
		cold          bool
		c             call
		status        int
		reads, writes int
	}{
		{"landing, warm", false, landing, 200, 1, 0},
		{"landing, cold", true, landing, 200, 2, 0},
		{"landing of a clinic's page, warm", false, ofClinic(landing), 200, 1, 0},
		{"landing of a clinic's page, cold: code and settings in one call", true, ofClinic(landing), 200, 1, 0},
		{"room, warm", false, roomView, 200, 1, 0},
		{"room, cold", true, roomView, 200, 2, 0},
		{"room of a clinic's page, warm", false, ofClinic(roomView), 200, 1, 0},
		{"room of a clinic's page, cold: room and settings in one call", true, ofClinic(roomView), 200, 1, 0},
		{"open, warm", false, open, 204, 0, 1},
		{"open, cold", true, open, 204, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.deps.Settings.TTL = time.Hour
			if tt.cold {
				s.deps.Settings.TTL = 0 // nothing cached is fresh
			} else {
				_, err := s.deps.Settings.Get(context.Background(), "clinic-a")
				require.NoError(t, err)
			}
			r := s.do(tt.c)
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.reads, r.Calls.Reads(), "%v", r.Calls.Ops())
			require.Equal(t, tt.writes, r.Calls.Writes(), "%v", r.Calls.Ops())
			if tt.status == 200 {
				require.Equal(t, map[string]any{"name": "悦颜医疗美容门诊部", "phone": "021-62880000"}, r.JSON(t)["clinic"])
			}
		})
	}
}

// A page that names its clinic is shown only that clinic's codes and rooms,
// cold or warm: another clinic's is not found, as an unknown one is, and a
// malformed tenant is a bad request.
func TestShareLinkPagesOfAClinic(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	s.settings("clinic-a", `{"clinic":{"name":"悦颜医疗美容门诊部","phone":"021-62880000"}}`)
	s.settings("clinic-b", `{"clinic":{"name":"另一家门诊部","phone":"021-00000000"}}`)
	code := s.codeOf(patient("clinic-a", "alice"))
	s.deal("clinic-a", "duo", map[string]any{"stock": 10, "groupSize": 2})
	room := s.opened(patient("clinic-a", "bob"), "duo")

	pages := []struct {
		name, fn, route, param, id, notFound string
	}{
		{"landing", "referral", "GET /v1/r/{code}", "code", code, "CODE_NOT_FOUND"},
		{"room", "groupbuy", "GET /v1/groups/{groupId}", "groupId", room, "GROUP_NOT_FOUND"},
	}
	asking := []struct {
		tenant string
		status int
		code   string
	}{
		{"clinic-a", 200, ""},
		{"clinic-b", 404, ""},
		{"no clinic", 400, "BAD_REQUEST"},
	}
	for _, p := range pages {
		for _, cold := range []bool{true, false} {
			for _, a := range asking {
				t.Run(fmt.Sprintf("%s, cold %v, asked by %s", p.name, cold, a.tenant), func(t *testing.T) {
					s.deps.Settings.TTL = time.Hour
					if cold {
						s.deps.Settings.TTL = 0
					}
					r := s.do(call{fn: p.fn, route: p.route, params: map[string]string{p.param: p.id},
						query: map[string]string{"tenant": a.tenant}})
					require.Equal(t, a.status, r.Status, r.Body)
					switch a.status {
					case 200:
						require.Equal(t, "悦颜医疗美容门诊部", r.JSON(t)["clinic"].(map[string]any)["name"])
					case 404:
						require.Equal(t, p.notFound, r.Code(t), r.Body)
					default:
						require.Equal(t, a.code, r.Code(t), r.Body)
					}
				})
			}
		}
	}
}

// Once drawn, a referral code's image is one read: its owner's code and the
// image stored under the owner, in one BatchGetItem (the clinic's
// mini-program cached).
func TestReferralCodeImageLaterRequestsReadOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("clinic-a")
	alice := patient("clinic-a", "alice")
	s.codeOf(alice)
	img := call{fn: "referral", route: "GET /v1/referral/code/image", as: alice}
	requirePNG(t, s.do(img)) // drawn and stored

	for range 2 {
		r := s.do(img)
		requirePNG(t, r)
		require.Equal(t, []string{"BatchGetItem"}, r.Calls.Ops())
	}
	require.Equal(t, 1, s.wechat.Calls(wechatstub.CodeImage), "drawn once")
}

// A room's image, once drawn, is one read when the page names its clinic:
// the room and the image in one BatchGetItem (the scene is the room's id).
// Without ?tenant= the room is read first, to know whose mini-program.
func TestGroupImageLaterRequestsOfAClinicReadOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp("clinic-a")
	s.deal("clinic-a", "duo", map[string]any{"stock": 10, "groupSize": 2})
	room := s.opened(patient("clinic-a", "bob"), "duo")
	img := call{fn: "groupbuy", route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": room}}
	requirePNG(t, s.do(img)) // drawn and stored

	ofClinic := img
	ofClinic.query = map[string]string{"tenant": "clinic-a"}
	r := s.do(ofClinic)
	requirePNG(t, r)
	require.Equal(t, []string{"BatchGetItem"}, r.Calls.Ops())
	require.Equal(t, 2, s.do(img).Calls.Reads(), "the room, then the image")

	other := ofClinic
	other.query = map[string]string{"tenant": "clinic-b"}
	require.Equal(t, "GROUP_NOT_FOUND", s.do(other).Code(t), "clinic-b has no mini-program: the room is read first")
	s.withApp("clinic-b")
	require.Equal(t, "GROUP_NOT_FOUND", s.do(other).Code(t), "another clinic's room")
	require.Equal(t, 1, s.wechat.Calls(wechatstub.CodeImage), "drawn once")
}
