package local

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/api"
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
	s, err := api.WeChat(st.Deps).Code2Session(context.Background(), app, st.WeChat.LoginCode(app.ID, "o-local", ""))
	require.NoError(t, err)
	require.Equal(t, "o-local", s.OpenID)
}
