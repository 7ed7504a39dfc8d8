package local

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/wechat"
)

// Without WECHAT_API_BASE the stack runs the WeChat stand-in, and the
// functions' client talks to it.
func TestStackRunsTheWeChatStandIn(t *testing.T) {
	st := startStack(t).stack
	require.NotNil(t, st.WeChat)
	require.Equal(t, st.WeChat.URL, st.Deps.Config.WeChatAPIBase)

	app := wechat.App{ID: "wxlocal", Secret: "local-secret"}
	st.WeChat.AddApp(app.ID, app.Secret)
	s, err := st.Deps.WeChat().Code2Session(context.Background(), app, st.WeChat.LoginCode(app.ID, "o-local", ""))
	require.NoError(t, err)
	require.Equal(t, "o-local", s.OpenID)
}

// Through the runner over HTTP, as a mini-program fetches them: the bytes
// arrive decoded from API Gateway's base64, with their type and cache
// headers, drawn for the demo clinic's app (in develop: WeChat does not
// check the page).
func TestCodeImagesThroughTheRunner(t *testing.T) {
	r := startStack(t)
	demo := r.stack.Demo
	referrer := r.token(demo.Referrer, demo.Tenant, "patient")
	room := r.send(http.MethodPost, "/v1/groups", referrer, `{"dealId":"`+demo.Deal+`"}`)
	require.Equal(t, http.StatusCreated, room.Status, room.Raw)
	groupID := room.Body["groupId"].(string)

	tests := []struct {
		name, path, token, cache string
	}{
		{"referral code", "/v1/referral/code/image", referrer, "private"},
		{"room", "/v1/groups/" + strings.ToLower(groupID) + "/image", "", "public"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, r.url+tt.path, nil)
			require.NoError(t, err)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode, string(raw))
			require.Equal(t, "image/png", res.Header.Get("Content-Type"))
			require.True(t, strings.HasPrefix(res.Header.Get("Cache-Control"), tt.cache), res.Header.Get("Cache-Control"))
			require.NotEmpty(t, res.Header.Get("ETag"))
			_, err = png.Decode(bytes.NewReader(raw))
			require.NoError(t, err, "the body is the image itself, not its base64")
		})
	}
	var drawn []wechatstub.Drawn
	for _, d := range r.stack.WeChat.DrawnCodes() {
		if d.AppID == DemoAppID {
			drawn = append(drawn, d)
		}
	}
	require.ElementsMatch(t, []wechatstub.Drawn{
		{AppID: DemoAppID, Scene: "r=" + demo.ReferralCode, Page: "pages/landing/index", EnvVersion: "develop", Width: 430},
		{AppID: DemoAppID, Scene: "g=" + groupID, Page: "pages/landing/index", EnvVersion: "develop", Width: 430},
	}, drawn)
}
