package dynamo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/wechat"
)

// oneApp is every tenant's mini-program: wxApp.
type oneApp struct{}

func (oneApp) App(context.Context, string) (wechat.App, error) { return wxApp, nil }

// skips records the subscribe messages skipped, by reason.
type skips struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *skips) add(_, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[reason]++
}

type messaging struct {
	srv   *wechatstub.Server
	store HookStore
	wx    WeChatStore
	skips *skips
}

func newMessaging(t *testing.T) *messaging {
	t.Helper()
	stub := wechatstub.New()
	stub.AddApp(wxApp.ID, wxApp.Secret)
	srv, err := wechatstub.Start(stub)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	db := ddbtest.New(t, ddbtest.WithoutStream())
	s := NewStore(db.Client, db.Table)
	m := &messaging{srv: srv, store: HookStore{Store: s}, wx: WeChatStore{Store: s}, skips: &skips{n: map[string]int{}}}
	require.NoError(t, m.store.SaveRule(context.Background(), hook.Rule{
		Tenant: "clinic-a", ID: "notify", Event: event.GroupSucceeded, To: hook.Members,
		SubscribeMessage: &hook.SubscribeMessage{TemplateID: "tpl-group", Page: "pages/group/index?g=G1",
			Data: map[string]string{"thing1": "{deal.title}", "phrase2": "{group.status}", "character_string3": "{group.joined}/{group.size}"}},
	}))
	return m
}

// dispatcher is one hooks invocation's, with its own WeChat client.
func (m *messaging) dispatcher(attempts int) *hook.Dispatcher {
	return &hook.Dispatcher{
		Store: m.store,
		Rules: hook.NewRuleCache(m.store, time.Minute),
		Messages: &hook.Messages{
			Apps: oneApp{}, OpenIDs: m.wx, Claims: m.store, Attempts: attempts, Backoff: time.Millisecond, Skipped: m.skips.add,
			Sender: wechat.New(m.srv.URL, wechat.WithTokenStore(m.wx), wechat.WithRetry(1, 0), wechat.WithTokenWait(30*time.Second)),
		},
	}
}

func succeededEvent(members ...string) event.Event {
	list := make([]any, len(members))
	for i, u := range members {
		list[i] = map[string]any{"userId": u, "priceFen": 9900.0, "leader": i == 0}
	}
	return event.New(event.GroupSucceeded, "clinic-a", time.Now(), map[string]any{
		"groupId": "G1", "dealId": "duo", "dealTitle": "闺蜜卡双人皮肤管理体验（限时）", "size": 3.0, "joined": 3.0,
		"status": "SUCCEEDED", "members": list,
	})
}

func TestSubscribeMessageExactlyOnce(t *testing.T) {
	m := newMessaging(t)
	ctx := context.Background()
	// u1 accepted the template more than once: a repeat would reach her.
	// u2 never accepted it; u3 never signed in with WeChat.
	for _, u := range []string{"u1", "u2"} {
		require.NoError(t, m.wx.SaveOpenID(ctx, "clinic-a", u, "o-"+u))
		m.srv.LoginCode(wxApp.ID, "o-"+u, "")
	}
	m.srv.AddTemplate(wxApp.ID, "tpl-group")
	for range 5 {
		m.srv.Accept(wxApp.ID, "o-u1", "tpl-group")
	}
	e := succeededEvent("u1", "u2", "u3")

	// Invocations race over the new event (two in the worst real case, more
	// here to make the race likely)...
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, m.dispatcher(3).Dispatch(ctx, e))
		}()
	}
	wg.Wait()
	// ...and the stream delivers it three more times.
	for range 3 {
		require.NoError(t, m.dispatcher(3).Dispatch(ctx, e))
	}

	sent := m.srv.SentMessages()
	require.Len(t, sent, 1, "one message to u1, however often the event came")
	require.Equal(t, "o-u1", sent[0].ToOpenID)
	require.Equal(t, "pages/group/index?g=G1", sent[0].Page)
	require.Equal(t, map[string]string{"thing1": "闺蜜卡双人皮肤管理体验（限时）", "phrase2": "拼团成功", "character_string3": "3/3"}, sent[0].Data)
	require.Equal(t, map[string]int{hook.NotGrantedSkip: 1, hook.NoOpenIDSkip: 1}, m.skips.n, "skipped and counted once each")
	require.Equal(t, 1, m.srv.Calls(wechatstub.StableToken))
	require.LessOrEqual(t, m.srv.Calls(wechatstub.Subscribe), 2, "u1 once, u2 once (43101), never again")

	dls, err := m.store.DeadLetters(ctx, "clinic-a")
	require.NoError(t, err)
	require.Empty(t, dls, "43101 is no dead letter")
}

func TestSubscribeMessageFailures(t *testing.T) {
	m := newMessaging(t)
	ctx := context.Background()
	require.NoError(t, m.wx.SaveOpenID(ctx, "clinic-a", "u1", "o-u1"))
	m.srv.LoginCode(wxApp.ID, "o-u1", "")
	m.srv.Accept(wxApp.ID, "o-u1", "tpl-group")

	// WeChat busy on every try: retried, then dead-lettered, never sent again.
	e := succeededEvent("u1")
	m.srv.Fail(wechatstub.Subscribe, wechatstub.Busy, 3)
	require.NoError(t, m.dispatcher(3).Dispatch(ctx, e))
	require.Equal(t, 3, m.srv.Calls(wechatstub.Subscribe))
	dls, err := m.store.DeadLetters(ctx, "clinic-a")
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, "subscribeMessage", dls[0].Action)
	require.Equal(t, "u1", dls[0].Recipient)
	require.Equal(t, 3, dls[0].Attempts)
	require.Contains(t, dls[0].Error, string(apierr.WeChatUnavailable))
	require.NotContains(t, dls[0].Error, "o-u1", "no openid in a dead letter")
	require.NoError(t, m.dispatcher(3).Dispatch(ctx, e))
	require.Equal(t, 3, m.srv.Calls(wechatstub.Subscribe), "a dead letter is settled")

	// Busy once: the retry sends it.
	e2 := succeededEvent("u1")
	m.srv.Fail(wechatstub.Subscribe, wechatstub.Busy, 1)
	require.NoError(t, m.dispatcher(3).Dispatch(ctx, e2))
	require.Len(t, m.srv.SentMessages(), 1)

	// WeChat refuses the message (no such template): dead-lettered at once.
	require.NoError(t, m.store.SaveRule(ctx, hook.Rule{
		Tenant: "clinic-a", ID: "notify", Event: event.GroupSucceeded, To: hook.Members,
		SubscribeMessage: &hook.SubscribeMessage{TemplateID: "tpl-deleted", Data: map[string]string{"thing1": "x"}},
	}))
	before := m.srv.Calls(wechatstub.Subscribe)
	require.NoError(t, m.dispatcher(3).Dispatch(ctx, succeededEvent("u1")))
	require.Equal(t, before+1, m.srv.Calls(wechatstub.Subscribe))
	dls, err = m.store.DeadLetters(ctx, "clinic-a")
	require.NoError(t, err)
	require.Len(t, dls, 2)
}

func TestSubscribeMessageOutOfTimeIsRetried(t *testing.T) {
	m := newMessaging(t)
	ctx := context.Background()
	require.NoError(t, m.wx.SaveOpenID(ctx, "clinic-a", "u1", "o-u1"))
	m.srv.LoginCode(wxApp.ID, "o-u1", "")
	m.srv.Accept(wxApp.ID, "o-u1", "tpl-group")
	e := succeededEvent("u1")

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond) // less than a send needs
	defer cancel()
	err := m.dispatcher(3).Dispatch(short, e)
	require.ErrorIs(t, err, hook.ErrNoTime, "the stream retries the event")
	require.Empty(t, m.srv.SentMessages())

	require.NoError(t, m.dispatcher(3).Dispatch(ctx, e))
	require.Len(t, m.srv.SentMessages(), 1, "the claim was given back, so the retry sends it")
}

func TestSubscribeMessageNotConfigured(t *testing.T) {
	m := newMessaging(t)
	ctx := context.Background()
	d := m.dispatcher(1)
	d.Messages.Apps = noApp{}
	require.NoError(t, d.Dispatch(ctx, succeededEvent("u1")))
	dls, err := m.store.DeadLetters(ctx, "clinic-a")
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Contains(t, dls[0].Error, "WECHAT_NOT_CONFIGURED")
}

type noApp struct{}

func (noApp) App(context.Context, string) (wechat.App, error) {
	return wechat.App{}, apierr.E(apierr.WeChatNotConfigured, "no app")
}
