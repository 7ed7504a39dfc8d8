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
