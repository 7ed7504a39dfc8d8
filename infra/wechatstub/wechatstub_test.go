package wechatstub

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/clock"
)

func post(t *testing.T, s *Stub, path string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b)))
	require.Equal(t, http.StatusOK, w.Code)
	var out map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	return out
}

func TestStableTokenModes(t *testing.T) {
	clock := clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s := New()
	s.Now = clock.Now
	s.AddApp("wx1", "secret")
	s.AddTemplate("wx1", "tpl")
	s.LoginCode("wx1", "o1", "")
	token := func(force bool) string {
		out := post(t, s, "/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": "wx1", "secret": "secret", "force_refresh": force})
		v, _ := out["access_token"].(string)
		require.NotEmpty(t, v, "%v", out)
		return v
	}
	errcode := func(tok string) float64 {
		out := post(t, s, "/cgi-bin/message/subscribe/send?access_token="+tok, map[string]any{"touser": "o1", "template_id": "tpl", "data": map[string]any{"thing1": map[string]string{"value": "x"}}})
		return out["errcode"].(float64)
	}

	first := token(false)
	clock.Advance(time.Hour)
	require.Equal(t, first, token(false), "normal mode: the same token while it is valid")
	require.Equal(t, 43101.0, errcode(first), "a valid token reaches the API's own checks")

	forced := token(true)
	require.NotEqual(t, first, forced)
	clock.Advance(ForcedOverlap - time.Second)
	require.Equal(t, 43101.0, errcode(first), "the old token lives 5 more minutes")
	clock.Advance(2 * time.Second)
	require.Equal(t, 42001.0, errcode(first), "then it has expired")
	require.Equal(t, 43101.0, errcode(forced))

	s.Revoke("wx1")
	require.Equal(t, 40001.0, errcode(forced))
	require.Equal(t, forced, token(false), "normal mode hands out the revoked token")
	require.NotEqual(t, forced, token(true))
	require.Equal(t, 41001.0, errcode(""))
	require.Equal(t, 40001.0, errcode("nosuchtoken"))

	out := post(t, s, "/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": "wx1", "secret": "wrong"})
	require.Equal(t, 40125.0, out["errcode"])
	out = post(t, s, "/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": "wx2", "secret": "secret"})
	require.Equal(t, 40013.0, out["errcode"])
}

func TestDeveloperEndpoints(t *testing.T) {
	s := New()
	post(t, s, "/_stub/app", map[string]any{"appId": "wx1", "secret": "secret"})
	code := post(t, s, "/_stub/login-code", map[string]any{"appId": "wx1", "openId": "o1"})["code"].(string)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sns/jscode2session?appid=wx1&secret=secret&grant_type=authorization_code&js_code="+code, nil))
	var out map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.Equal(t, "o1", out["openid"])
	require.NotNil(t, post(t, s, "/_stub/phone-code", map[string]any{"phone": "13800138000"})["code"])
	post(t, s, "/_stub/accept", map[string]any{"openId": "o1", "templateId": "tpl"})
	post(t, s, "/_stub/fault", map[string]any{"api": StableToken, "fault": Busy})
	require.Equal(t, -1.0, post(t, s, "/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": "wx1", "secret": "secret"})["errcode"])
	require.Equal(t, 1, s.Calls(StableToken))
	require.Equal(t, 1, s.accepted["wx1|o1|tpl"], "the only app is meant")
}

// The inbox shows what a user was sent, and only theirs.
func TestInboxListsDeliveredMessages(t *testing.T) {
	s := New()
	s.AddApp("wx1", "secret")
	s.Accept("wx1", "o1", "tpl")
	s.Accept("wx1", "o2", "tpl")
	tok := post(t, s, "/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": "wx1", "secret": "secret"})["access_token"].(string)
	for _, to := range []string{"o1", "o2", "o1"} { // o1's second has no acceptance left: 43101
		post(t, s, "/cgi-bin/message/subscribe/send?access_token="+tok, map[string]any{
			"touser": to, "template_id": "tpl", "data": map[string]any{"thing1": map[string]string{"value": "拼团成功"}},
		})
	}
	inbox := func(query string) []any {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/_stub/messages"+query, nil))
		require.Equal(t, http.StatusOK, w.Code)
		var out struct{ Messages []any }
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
		return out.Messages
	}
	tests := []struct {
		query string
		want  int
	}{{"?openId=o1", 1}, {"?openId=o2", 1}, {"?openId=o3", 0}, {"", 2}}
	for _, tc := range tests {
		require.Len(t, inbox(tc.query), tc.want, tc.query)
	}
	require.Equal(t, map[string]any{"thing1": "拼团成功"}, inbox("?openId=o1")[0].(map[string]any)["data"])
}
