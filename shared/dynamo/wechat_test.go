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
	"github.com/laoyou/laoyou/shared/clock"
	"github.com/laoyou/laoyou/shared/wechat"
	"github.com/laoyou/laoyou/shared/wxacode"
)

var wxApp = wechat.App{ID: "wx0123456789abcdef", Secret: "s3cret-s3cret-s3cret", EnvVersion: "release"}

// newWeChat starts a stub with wxApp on clock and returns a table.
func newWeChat(t *testing.T, clock *clock.Settable) (*wechatstub.Server, WeChatStore) {
	t.Helper()
	stub := wechatstub.New()
	stub.Now = clock.Now
	stub.AddApp(wxApp.ID, wxApp.Secret)
	srv, err := wechatstub.Start(stub)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	db := ddbtest.New(t, ddbtest.WithoutStream())
	return srv, WeChatStore{Store: NewStore(db.Client, db.Table)}
}

// coldClient is a new execution environment's client: nothing in memory.
func coldClient(srv *wechatstub.Server, store WeChatStore, clock *clock.Settable) *wechat.Client {
	return wechat.New(srv.URL, wechat.WithTokenStore(store), wechat.WithClock(clock.Now),
		wechat.WithTokenWait(30*time.Second), wechat.WithRetry(1, 0))
}

// callAll makes n cold environments each draw a code at once and returns
// their errors.
func callAll(srv *wechatstub.Server, store WeChatStore, clock *clock.Settable, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = coldClient(srv, store, clock).CodeImage(context.Background(), wxApp, wechat.CodeRequest{Scene: "r=ABC"})
		}()
	}
	wg.Wait()
	return errs
}

func TestWeChatTokenSharedAcrossEnvironments(t *testing.T) {
	clock := clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	srv, store := newWeChat(t, clock)

	for _, err := range callAll(srv, store, clock, 50) {
		require.NoError(t, err)
	}
	require.Equal(t, 1, srv.Calls(wechatstub.StableToken), "50 cold environments, one token fetch")
	require.Equal(t, 50, srv.Calls(wechatstub.CodeImage))

	rec, err := store.LoadToken(context.Background(), wxApp.ID)
	require.NoError(t, err)
	require.NotEmpty(t, rec.Value)
	require.Empty(t, rec.LeaseHolder, "the lease ends with the save")

	// An hour on, the stored token still serves new environments.
	clock.Advance(time.Hour)
	require.NoError(t, callAll(srv, store, clock, 5)[0])
	require.Equal(t, 1, srv.Calls(wechatstub.StableToken))

	// Near its expiry it is renewed, once.
	clock.Advance(time.Hour - wechat.TokenMargin/2)
	for _, err := range callAll(srv, store, clock, 10) {
		require.NoError(t, err)
	}
	require.Equal(t, 2, srv.Calls(wechatstub.StableToken))
}

func TestWeChatTokenRevokedMidRun(t *testing.T) {
	clock := clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	srv, store := newWeChat(t, clock)
	warm := make([]*wechat.Client, 20) // warm environments: the token in memory
	for i := range warm {
		warm[i] = coldClient(srv, store, clock)
		_, err := warm[i].CodeImage(context.Background(), wxApp, wechat.CodeRequest{Scene: "r=ABC"})
		require.NoError(t, err)
	}
	require.Equal(t, 1, srv.Calls(wechatstub.StableToken))
	before, err := store.LoadToken(context.Background(), wxApp.ID)
	require.NoError(t, err)

	srv.Revoke(wxApp.ID)
	var wg sync.WaitGroup
	errs := make([]error, len(warm))
	for i, c := range warm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CodeImage(context.Background(), wxApp, wechat.CodeRequest{Scene: "r=ABC"})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err, "each call refreshes or reads the refreshed token and tries once more")
	}
	require.Equal(t, 2, srv.Calls(wechatstub.StableToken), "one forced refresh")
	after, err := store.LoadToken(context.Background(), wxApp.ID)
	require.NoError(t, err)
	require.NotEqual(t, before.Value, after.Value)
	require.Equal(t, clock.Now(), after.ForcedAt)
	for _, err := range callAll(srv, store, clock, 5) {
		require.NoError(t, err, "later calls succeed")
	}
	require.Equal(t, 2, srv.Calls(wechatstub.StableToken))

	// Revoked again within 30 s: no second forced refresh, WECHAT_UNAVAILABLE.
	clock.Advance(wechat.ForcedRefreshGap - time.Second)
	srv.Revoke(wxApp.ID)
	for _, err := range callAll(srv, store, clock, 5) {
		require.Equal(t, apierr.WeChatUnavailable, apierr.KindOf(err))
	}
	require.Equal(t, 2, srv.Calls(wechatstub.StableToken), "at most one forced refresh per 30 s")

	// Once the gap has passed, one more.
	clock.Advance(2 * time.Second)
	for _, err := range callAll(srv, store, clock, 5) {
		require.NoError(t, err)
	}
	require.Equal(t, 3, srv.Calls(wechatstub.StableToken))
}

func TestWeChatTokenRefreshFailureReleasesTheLease(t *testing.T) {
	clock := clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	srv, store := newWeChat(t, clock)
	srv.Fail(wechatstub.StableToken, wechatstub.Busy, 1)
	c := wechat.New(srv.URL, wechat.WithTokenStore(store), wechat.WithClock(clock.Now), wechat.WithRetry(1, 0), wechat.WithTokenWait(0))
	_, err := c.CodeImage(context.Background(), wxApp, wechat.CodeRequest{Scene: "r=ABC"})
	require.Equal(t, apierr.WeChatUnavailable, apierr.KindOf(err))
	rec, err := store.LoadToken(context.Background(), wxApp.ID)
	require.NoError(t, err)
	require.Empty(t, rec.LeaseHolder)

	// Another environment fetches at once, without waiting for a lapse.
	c2 := wechat.New(srv.URL, wechat.WithTokenStore(store), wechat.WithClock(clock.Now), wechat.WithTokenWait(0))
	_, err = c2.CodeImage(context.Background(), wxApp, wechat.CodeRequest{Scene: "r=ABC"})
	require.NoError(t, err)
}

func TestCodeImageDrawnOnce(t *testing.T) {
	clock := clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	srv, store := newWeChat(t, clock)
	service := func() *wxacode.Service { // one per cold environment
		s := wxacode.New(store, coldClient(srv, store, clock))
		s.Wait = 30 * time.Second
		return s
	}

	const n = 20
	images := make([]wechat.Image, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			images[i], errs[i] = service().Image(context.Background(), wxApp, "pages/landing/index", "r=BR2NC3BN3", 430)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, "image/png", images[i].ContentType)
		require.Equal(t, images[0].Bytes, images[i].Bytes)
	}
	require.Equal(t, 1, srv.Calls(wechatstub.CodeImage), "20 concurrent first requests, one WeChat call")
	require.Less(t, len(images[0].Bytes), 64<<10, "a code fits an item with room to spare")

	for range 5 {
		img, err := service().Image(context.Background(), wxApp, "pages/landing/index", "r=BR2NC3BN3", 430)
		require.NoError(t, err)
		require.Equal(t, images[0], img)
	}
	require.Equal(t, 1, srv.Calls(wechatstub.CodeImage), "later requests are served from the table")

	// Another scene, width or page is another image.
	_, err := service().Image(context.Background(), wxApp, "pages/landing/index", "g=G#1", 430)
	require.NoError(t, err)
	_, err = service().Image(context.Background(), wxApp, "pages/landing/index", "r=BR2NC3BN3", 280)
	require.NoError(t, err)
	require.Equal(t, 3, srv.Calls(wechatstub.CodeImage))
}

func TestCodeImageFailedDrawingIsNotStored(t *testing.T) {
	clock := clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	srv, store := newWeChat(t, clock)
	s := wxacode.New(store, coldClient(srv, store, clock))
	s.Wait = 0

	srv.Fail(wechatstub.CodeImage, wechatstub.Busy, 1)
	_, err := s.Image(context.Background(), wxApp, "pages/landing/index", "r=X", 430)
	require.Equal(t, apierr.WeChatUnavailable, apierr.KindOf(err))

	_, err = s.Image(context.Background(), wxApp, "pages/landing/index", "bad scene!", 430)
	require.Equal(t, apierr.BadRequest, apierr.KindOf(err), "WeChat refuses a space in a scene")

	img, err := s.Image(context.Background(), wxApp, "pages/landing/index", "r=X", 430)
	require.NoError(t, err, "the failed drawing released its claim")
	require.NotEmpty(t, img.Bytes)
}

func TestOpenIDItem(t *testing.T) {
	db := ddbtest.New(t, ddbtest.WithoutStream())
	s := WeChatStore{Store: NewStore(db.Client, db.Table)}
	ctx := context.Background()
	_, ok, err := s.OpenID(ctx, "clinic-a", "u1")
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, s.SaveOpenID(ctx, "clinic-a", "u1", "o-abc"))
	id, ok, err := s.OpenID(ctx, "clinic-a", "u1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "o-abc", id)
	_, ok, err = s.OpenID(ctx, "clinic-b", "u1")
	require.NoError(t, err)
	require.False(t, ok, "per tenant")
}

// A code opens the app's version: WeChat checks the page of a released
// app's code only, and each version has codes of its own.
func TestCodeImageFollowsTheAppsVersion(t *testing.T) {
	clock := clock.At(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	srv, store := newWeChat(t, clock)
	s := wxacode.New(store, coldClient(srv, store, clock))
	tests := []struct {
		env, wantEnv string
		wantCheck    bool
	}{
		{"", "release", true},
		{"release", "release", true},
		{"trial", "trial", false},
		{"develop", "develop", false},
	}
	for _, tt := range tests {
		app := wechat.App{ID: wxApp.ID, Secret: wxApp.Secret, EnvVersion: tt.env}
		before := len(srv.DrawnCodes())
		_, err := s.Image(context.Background(), app, "pages/landing/index", "r=V"+tt.env, 430)
		require.NoError(t, err, tt.env)
		drawn := srv.DrawnCodes()
		require.Len(t, drawn, before+1, tt.env)
		got := drawn[before]
		require.Equal(t, wechatstub.Drawn{AppID: wxApp.ID, Scene: "r=V" + tt.env, Page: "pages/landing/index",
			EnvVersion: tt.wantEnv, CheckPath: tt.wantCheck, Width: 430}, got, tt.env)
	}

	// The same scene in another version is another image.
	trial := wechat.App{ID: wxApp.ID, Secret: wxApp.Secret, EnvVersion: "trial"}
	before := srv.Calls(wechatstub.CodeImage)
	_, err := s.Image(context.Background(), trial, "pages/landing/index", "r=Vrelease", 430)
	require.NoError(t, err)
	require.Equal(t, before+1, srv.Calls(wechatstub.CodeImage), "the release code is not served for trial")
}
