package api

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/wechatstub"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func requirePNG(t *testing.T, r reply) {
	t.Helper()
	require.Equal(t, 200, r.Status, r.Body)
	require.True(t, r.Base64, "API Gateway sends binary bodies base64-encoded")
	b, err := base64.StdEncoding.DecodeString(r.Body)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, pngMagic), "a PNG")
	require.Equal(t, "image/png", r.Headers["content-type"])
}

func TestReferralCodeImage(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	alice := patient("c1", "alice")
	img := call{fn: "referral", route: "GET /v1/referral/code/image", as: alice}

	r := s.do(img)
	require.Equal(t, 404, r.Status, r.Body)
	require.Equal(t, "CODE_NOT_FOUND", r.Code(t), "no code yet")
	require.Equal(t, 200, s.do(call{fn: "referral", route: "POST /v1/referral/code", as: alice}).Status)
	r = s.do(img)
	require.Equal(t, 404, r.Status, r.Body)
	require.Equal(t, "WECHAT_NOT_CONFIGURED", r.Code(t))

	s.withApp("c1")
	r = s.do(img)
	requirePNG(t, r)
	require.Contains(t, r.Headers["cache-control"], "max-age")
	require.Equal(t, 1, s.wechat.Calls(wechatstub.CodeImage))
	again := s.do(img)
	requirePNG(t, again)
	require.Equal(t, r.Body, again.Body)
	require.Equal(t, 1, s.wechat.Calls(wechatstub.CodeImage), "drawn once, then served from the table")

	// Another clinic's patient has no code there.
	r = s.do(call{fn: "referral", route: "GET /v1/referral/code/image", as: patient("c2", "alice")})
	require.Equal(t, 404, r.Status)
}

func TestGroupImage(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp(tenantA)
	s.deal(tenantA, "duo", map[string]any{"stock": 10, "groupSize": 2})
	room := s.opened(patient(tenantA, "leader"), "duo")

	r := s.do(call{fn: "groupbuy", route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": room}})
	requirePNG(t, r)
	require.Contains(t, r.Headers["cache-control"], "public")
	for _, id := range []string{"NOPE", "ZZZZZZZZZZZZ", ""} {
		r := s.do(call{fn: "groupbuy", route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": id}})
		require.Equal(t, 404, r.Status, id)
		require.Equal(t, "GROUP_NOT_FOUND", r.Code(t), id)
	}
	s.wechat.Fail(wechatstub.CodeImage, wechatstub.Busy, 10)
	other := s.opened(patient(tenantA, "leader-2"), "duo")
	r = s.do(call{fn: "groupbuy", route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": other}})
	require.Equal(t, 503, r.Status, r.Body)
	require.Equal(t, "WECHAT_UNAVAILABLE", r.Code(t))
}

// Through both routes: 20 concurrent first requests make one WeChat call
// and get the same image; a later request is served from the table with
// no WeChat call and no write. The code opens MINI_PROGRAM_PAGE without its
// "/", in the clinic's version, and WeChat checks the page of a released
// app only.
func TestCodeImagesAreDrawnOnceThroughTheRoutes(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp(tenantA)
	s.wechat.AddApp(testAppID, testAppSecret)
	r := s.do(call{fn: "admin", route: "PUT /v1/admin/wechat", as: admin(tenantB),
		body: `{"appId":"` + testAppID + `","appSecret":"` + testAppSecret + `","envVersion":"trial"}`})
	require.Equal(t, 200, r.Status, r.Body)

	tests := []struct {
		name, tenant, env string
		checkPath         bool
		request           func(tenant string) (call, string) // the request and the scene it shows
	}{
		{"referral code, released app", tenantA, "release", true, referralImage(s)},
		{"referral code, app in trial", tenantB, "trial", false, referralImage(s)},
		{"room, released app", tenantA, "release", true, groupImageOf(s)},
		{"room, app in trial", tenantB, "trial", false, groupImageOf(s)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, scene := tt.request(tt.tenant)
			calls, drawn := s.wechat.Calls(wechatstub.CodeImage), len(s.wechat.DrawnCodes())

			first := s.concurrently(20, func(int) call { return req })
			for _, r := range first {
				requirePNG(t, r)
				require.Equal(t, first[0].Body, r.Body, "one image for all")
				require.Regexp(t, `^"[0-9a-f]{32}"$`, r.Headers["etag"])
				require.Equal(t, first[0].Headers["etag"], r.Headers["etag"])
			}
			require.Equal(t, calls+1, s.wechat.Calls(wechatstub.CodeImage), "20 concurrent first requests, one WeChat call")
			require.Equal(t, []wechatstub.Drawn{{AppID: testAppID, Scene: scene, Page: "pages/landing/index",
				EnvVersion: tt.env, CheckPath: tt.checkPath, Width: 430}}, s.wechat.DrawnCodes()[drawn:])

			later := s.do(req)
			requirePNG(t, later)
			require.Equal(t, first[0].Body, later.Body)
			require.Equal(t, first[0].Headers["etag"], later.Headers["etag"], "the same tag from any environment")
			require.Equal(t, calls+1, s.wechat.Calls(wechatstub.CodeImage), "a later request makes no WeChat call")
			require.Zero(t, later.Calls.Writes(), "a later request writes nothing: %v", later.Calls.Ops())
		})
	}
}

// referralImage makes a patient of tenant a code and asks for its image.
func referralImage(s *stack) func(tenant string) (call, string) {
	return func(tenant string) (call, string) {
		as := patient(tenant, "referrer")
		r := s.do(call{fn: "referral", route: "POST /v1/referral/code", as: as})
		require.Equal(s.t, 200, r.Status, r.Body)
		return call{fn: "referral", route: "GET /v1/referral/code/image", as: as}, r.JSON(s.t)["scene"].(string)
	}
}

// groupImageOf opens a room of tenant and asks for its image.
func groupImageOf(s *stack) func(tenant string) (call, string) {
	return func(tenant string) (call, string) {
		s.deal(tenant, "trio", map[string]any{"stock": 10, "groupSize": 3})
		id := s.opened(patient(tenant, "leader"), "trio")
		return call{fn: "groupbuy", route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": id}}, "g=" + id
	}
}

// ?tenant= names the clinic of the page asking: a room of another clinic
// is not found there, and a malformed one is refused.
func TestGroupImageForTheAskingClinic(t *testing.T) {
	s := newStack(t, ddbtest.WithoutStream())
	s.withApp(tenantA)
	s.deal(tenantA, "duo", map[string]any{"stock": 10, "groupSize": 2})
	room := s.opened(patient(tenantA, "leader"), "duo")
	tests := []struct {
		name, tenant string
		status       int
		code         string
	}{
		{"the room's clinic", tenantA, 200, ""},
		{"another clinic", tenantB, 404, "GROUP_NOT_FOUND"},
		{"malformed", "a b", 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: "groupbuy", route: "GET /v1/groups/{groupId}/image", params: map[string]string{"groupId": room},
				query: map[string]string{"tenant": tt.tenant}})
			if tt.status == 200 {
				requirePNG(t, r)
				return
			}
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.code, r.Code(t))
		})
	}
}
