package wechat_test

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/clock"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/wechat"
)

var app = wechat.App{ID: "wx0123456789abcdef", Secret: "s3cret-s3cret-s3cret", EnvVersion: "release"}

// calls records what the client reported to its metrics sink.
type calls struct {
	mu  sync.Mutex
	got []string
}

func (m *calls) WeChatCall(api, result string, _ time.Duration) {
	m.mu.Lock()
	m.got = append(m.got, api+":"+result)
	m.mu.Unlock()
}

type fixture struct {
	srv     *wechatstub.Server
	clock   *clock.Settable
	metrics *calls
	client  *wechat.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)), metrics: &calls{}}
	stub := wechatstub.New()
	stub.Now = f.clock.Now
	stub.SlowFor = 2 * time.Second
	stub.Pages = []string{"pages/landing/index", "pages/group/index"}
	stub.AddApp(app.ID, app.Secret)
	srv, err := wechatstub.Start(stub)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	f.srv = srv
	f.client = wechat.New(srv.URL, wechat.WithClock(f.clock.Now), wechat.WithMetrics(f.metrics),
		wechat.WithTimeout(300*time.Millisecond), wechat.WithRetry(2, 10*time.Millisecond))
	return f
}

// requireKind checks err's kind, that it maps to a 4xx or 503, never 500,
// and that its text carries none of secrets.
func requireKind(t *testing.T, want apierr.Kind, err error, secrets ...string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, apierr.KindOf(err), "%v", err)
	status := httpapi.StatusOf(err)
	require.True(t, status < 500 || status == 503, "status %d", status)
	for _, s := range append(secrets, app.Secret) {
		if s == "" {
			continue
		}
		require.NotContains(t, err.Error(), s)
		require.NotContains(t, apierr.Message(err), s)
	}
}

func TestCode2Session(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good := f.srv.LoginCode(app.ID, "o-lucy", "u-lucy")
	s, err := f.client.Code2Session(ctx, app, good)
	require.NoError(t, err)
	require.Equal(t, "o-lucy", s.OpenID)
	require.Equal(t, "u-lucy", s.UnionID)
	require.NotEmpty(t, s.SessionKey)

	expired := f.srv.LoginCode(app.ID, "o-lucy", "")
	f.clock.Advance(wechatstub.CodeTTL + time.Second)
	f.srv.Block(app.ID, "o-bad")
	blocked := f.srv.LoginCode(app.ID, "o-bad", "")
	tests := []struct {
		name  string
		app   wechat.App
		code  string
		fault string
		want  apierr.Kind
		calls int // calls the stub answered
	}{
		{"used code", app, good, "", apierr.WeChatCodeInvalid, 1},
		{"unknown code", app, "0nosuchcode", "", apierr.WeChatCodeInvalid, 1},
		{"empty code", app, "", "", apierr.WeChatCodeInvalid, 0},
		{"expired code", app, expired, "", apierr.WeChatCodeInvalid, 1},
		{"blocked user", app, blocked, "", apierr.WeChatUserBlocked, 1},
		{"wrong secret", wechat.App{ID: app.ID, Secret: "wrong-wrong-wrong"}, "0x", "", apierr.WeChatNotConfigured, 1},
		{"unknown app", wechat.App{ID: "wxnosuchapp", Secret: app.Secret}, "0x", "", apierr.WeChatNotConfigured, 1},
		{"busy twice", app, "0x", wechatstub.Busy, apierr.WeChatUnavailable, 2},
		{"rate limited, not retried", app, "0x", wechatstub.RateLimit, apierr.WeChatUnavailable, 1},
		{"5xx twice", app, "0x", wechatstub.HTTP5xx, apierr.WeChatUnavailable, 2},
		{"too slow twice", app, "0x", wechatstub.Slow, apierr.WeChatUnavailable, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.srv.Calls(wechatstub.Code2Session)
			if tt.fault != "" {
				f.srv.Fail(wechatstub.Code2Session, tt.fault, 2)
				t.Cleanup(f.srv.ClearFaults)
			}
			_, err := f.client.Code2Session(ctx, tt.app, tt.code)
			requireKind(t, tt.want, err, tt.code)
			require.Equal(t, tt.calls, f.srv.Calls(wechatstub.Code2Session)-before)
		})
	}
}

func TestCode2SessionRetriesOnce(t *testing.T) {
	for _, fault := range []string{wechatstub.Busy, wechatstub.HTTP5xx, wechatstub.Slow} {
		t.Run(fault, func(t *testing.T) {
			f := newFixture(t)
			f.srv.Fail(wechatstub.Code2Session, fault, 1)
			s, err := f.client.Code2Session(context.Background(), app, f.srv.LoginCode(app.ID, "o-1", ""))
			require.NoError(t, err)
			require.Equal(t, "o-1", s.OpenID)
			require.Equal(t, 2, f.srv.Calls(wechatstub.Code2Session))
		})
	}
}

func TestPhoneNumber(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	code := f.srv.PhoneCode(app.ID, "13800138000")
	p, err := f.client.PhoneNumber(ctx, app, code)
	require.NoError(t, err)
	require.Equal(t, wechat.Phone{Number: "13800138000", PureNumber: "13800138000", CountryCode: "86"}, p)

	_, err = f.client.PhoneNumber(ctx, app, code)
	requireKind(t, apierr.WeChatCodeInvalid, err, code, "13800138000")
	_, err = f.client.PhoneNumber(ctx, app, "pnosuch")
	requireKind(t, apierr.WeChatCodeInvalid, err)

	hk := f.srv.PhoneCode(app.ID, "+852 61234567")
	p, err = f.client.PhoneNumber(ctx, app, hk)
	require.NoError(t, err)
	require.Equal(t, wechat.Phone{Number: "+852 61234567", PureNumber: "61234567", CountryCode: "852"}, p)

	f.srv.Fail(wechatstub.PhoneNumber, wechatstub.Busy, 2)
	_, err = f.client.PhoneNumber(ctx, app, f.srv.PhoneCode(app.ID, "13800138001"))
	requireKind(t, apierr.WeChatUnavailable, err)
	require.Equal(t, 1, f.srv.Calls(wechatstub.StableToken), "one token for all calls")
}

func TestCodeImage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	img, err := f.client.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=BR2NC3BN3", Page: "pages/landing/index", CheckPath: true, Width: 280})
	require.NoError(t, err)
	require.Equal(t, "image/png", img.ContentType)
	decoded, err := png.Decode(bytes.NewReader(img.Bytes))
	require.NoError(t, err)
	require.Equal(t, 280, decoded.Bounds().Dx())

	tests := []struct {
		name string
		req  wechat.CodeRequest
		want apierr.Kind
	}{
		{"scene too long", wechat.CodeRequest{Scene: strings.Repeat("a", 33)}, apierr.BadRequest},
		{"scene with a space", wechat.CodeRequest{Scene: "r=A B"}, apierr.BadRequest},
		{"empty scene", wechat.CodeRequest{}, apierr.BadRequest},
		{"unknown page checked", wechat.CodeRequest{Scene: "r=A", Page: "pages/nope", CheckPath: true}, apierr.BadRequest},
		{"narrow", wechat.CodeRequest{Scene: "r=A", Width: 279}, apierr.BadRequest},
		{"wide", wechat.CodeRequest{Scene: "r=A", Width: 1281}, apierr.BadRequest},
		{"unknown version", wechat.CodeRequest{Scene: "r=A", EnvVersion: "beta"}, apierr.BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client.CodeImage(ctx, app, tt.req)
			requireKind(t, tt.want, err)
		})
	}
	_, err = f.client.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=A", Page: "pages/nope", CheckPath: false})
	require.NoError(t, err, "an unpublished page is fine unchecked")
	_, err = f.client.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=A", Page: "/pages/landing/index", CheckPath: true})
	require.NoError(t, err, "the leading / is dropped")
}

func TestSubscribeMessage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.LoginCode(app.ID, "o-lucy", "") // the stub knows her
	f.srv.AddTemplate(app.ID, "tpl-group")
	msg := wechat.SubscribeMessage{ToOpenID: "o-lucy", TemplateID: "tpl-group", Page: "pages/group/index?g=G1",
		Data: map[string]string{"thing1": "闺蜜卡", "number2": "2", "phrase3": "拼团成功"}}

	err := f.client.SendSubscribeMessage(ctx, app, msg)
	require.True(t, wechat.IsNotGranted(err), "%v", err)
	requireKind(t, apierr.BadRequest, err, "o-lucy")

	f.srv.Accept(app.ID, "o-lucy", "tpl-group")
	require.NoError(t, f.client.SendSubscribeMessage(ctx, app, msg))
	sent := f.srv.SentMessages()
	require.Len(t, sent, 1)
	require.Equal(t, "formal", sent[0].State)
	require.Equal(t, "pages/group/index?g=G1", sent[0].Page)
	require.Equal(t, msg.Data, sent[0].Data)
	require.True(t, wechat.IsNotGranted(f.client.SendSubscribeMessage(ctx, app, msg)), "one acceptance, one message")

	f.srv.Accept(app.ID, "o-lucy", "tpl-group")
	tests := []struct {
		name string
		edit func(m *wechat.SubscribeMessage)
	}{
		{"thing over 20", func(m *wechat.SubscribeMessage) { m.Data = map[string]string{"thing1": strings.Repeat("字", 21)} }},
		{"phrase over 5", func(m *wechat.SubscribeMessage) { m.Data = map[string]string{"phrase1": "一二三四五六"} }},
		{"name over 10", func(m *wechat.SubscribeMessage) { m.Data = map[string]string{"name1": strings.Repeat("a", 11)} }},
		{"number over 32", func(m *wechat.SubscribeMessage) { m.Data = map[string]string{"number1": strings.Repeat("1", 33)} }},
		{"unknown key", func(m *wechat.SubscribeMessage) { m.Data = map[string]string{"colour1": "red"} }},
		{"unknown template", func(m *wechat.SubscribeMessage) { m.TemplateID = "tpl-nope" }},
		{"unknown user", func(m *wechat.SubscribeMessage) { m.ToOpenID = "o-nobody" }},
		{"bad state", func(m *wechat.SubscribeMessage) { m.State = "beta" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msg
			tt.edit(&m)
			err := f.client.SendSubscribeMessage(ctx, app, m)
			requireKind(t, apierr.BadRequest, err)
			require.False(t, wechat.IsNotGranted(err))
		})
	}
	require.NoError(t, f.client.SendSubscribeMessage(ctx, app, msg), "the refused ones used no acceptance")
}

func TestTokenRevokedAndExpired(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	req := wechat.CodeRequest{Scene: "r=A"}
	_, err := f.client.CodeImage(ctx, app, req)
	require.NoError(t, err)

	f.srv.Revoke(app.ID)
	_, err = f.client.CodeImage(ctx, app, req)
	require.NoError(t, err, "40001: refreshed with force_refresh and tried again")
	require.Equal(t, 2, f.srv.Calls(wechatstub.StableToken))

	f.srv.Revoke(app.ID)
	_, err = f.client.CodeImage(ctx, app, req)
	requireKind(t, apierr.WeChatUnavailable, err)
	require.Equal(t, 2, f.srv.Calls(wechatstub.StableToken), "no second forced refresh within 30 s")

	f.clock.Advance(wechat.ForcedRefreshGap)
	_, err = f.client.CodeImage(ctx, app, req)
	require.NoError(t, err)
	require.Equal(t, 3, f.srv.Calls(wechatstub.StableToken))

	f.clock.Advance(wechatstub.TokenTTL - wechat.TokenMargin + time.Second)
	_, err = f.client.CodeImage(ctx, app, req)
	require.NoError(t, err, "renewed before it expires")
	require.Equal(t, 4, f.srv.Calls(wechatstub.StableToken))
}

func TestTokenFetchFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.client.CodeImage(ctx, wechat.App{ID: app.ID, Secret: "wrong-wrong-wrong"}, wechat.CodeRequest{Scene: "r=A"})
	requireKind(t, apierr.WeChatNotConfigured, err, "wrong-wrong-wrong")

	f.srv.Fail(wechatstub.StableToken, wechatstub.Busy, 2)
	_, err = f.client.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=A"})
	requireKind(t, apierr.WeChatUnavailable, err)
	_, err = f.client.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=A"})
	require.NoError(t, err)
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.client.Code2Session(ctx, app, f.srv.LoginCode(app.ID, "o-1", ""))
	require.NoError(t, err)
	_, _ = f.client.Code2Session(ctx, app, "0nosuch")
	f.srv.LoginCode(app.ID, "o-2", "")
	f.srv.AddTemplate(app.ID, "tpl")
	_ = f.client.SendSubscribeMessage(ctx, app, wechat.SubscribeMessage{ToOpenID: "o-2", TemplateID: "tpl", Data: map[string]string{"thing1": "x"}})
	require.Equal(t, []string{
		"jscode2session:ok", "jscode2session:WECHAT_CODE_INVALID",
		"stable_token:ok", "subscribe_send:NOT_GRANTED",
	}, f.metrics.got)
}

// WeChat's clock says the token has expired (42001) before the client's
// does: the client refreshes and tries once more.
func TestTokenExpiredAtWeChat(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.client.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=A"})
	require.NoError(t, err)
	ours := clock.At(f.clock.Now())
	c := wechat.New(f.srv.URL, wechat.WithClock(ours.Now))
	_, err = c.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=A"})
	require.NoError(t, err)
	require.Equal(t, 2, f.srv.Calls(wechatstub.StableToken), "a second process's first token")

	f.clock.Advance(wechatstub.TokenTTL) // WeChat's time runs ahead
	before := f.srv.Calls(wechatstub.CodeImage)
	_, err = c.CodeImage(ctx, app, wechat.CodeRequest{Scene: "r=A"})
	require.NoError(t, err)
	require.Equal(t, 3, f.srv.Calls(wechatstub.StableToken))
	require.Equal(t, before+2, f.srv.Calls(wechatstub.CodeImage), "refused with 42001, then drawn")
}
