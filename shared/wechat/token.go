package wechat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
)

// Token timing.
const (
	// TokenMargin is how long before its expiry a token is no longer used.
	// In its normal mode stable_token hands out a new token in the last 5
	// minutes of the old one's life, so refreshing then gets a new one.
	TokenMargin = 5 * time.Minute
	// ForcedRefreshGap is the least time between two forced refreshes of
	// one app's token: WeChat counts stable_token calls against a daily
	// quota, and a bad answer repeated by many environments must not burn
	// it.
	ForcedRefreshGap = 30 * time.Second
	// LeaseFor is how long a refresh may hold its lease; an environment
	// that dies holding it delays others no longer than this.
	LeaseFor = 10 * time.Second
)

// TokenRecord is an app's token as the store keeps it, with the refresh
// lease and the time of the last forced refresh.
type TokenRecord struct {
	Token
	LeaseHolder string
	LeaseUntil  time.Time
	ForcedAt    time.Time
}

// Lease asks for the right to refresh an app's token. It is granted when
// no other holder's lease is running at Now and:
//   - for a normal refresh (Stale empty): the stored token is missing or
//     expires before NeedBy;
//   - for a forced refresh: the stored token is still Stale and the last
//     forced refresh was at or before ForcedBefore; Now is then recorded
//     as the last forced refresh.
type Lease struct {
	Holder       string
	Now          time.Time
	Until        time.Time
	NeedBy       time.Time
	Stale        string
	ForcedBefore time.Time
}

// TokenStore keeps one token per app for every execution environment.
// Each method is one conditional write or one read.
type TokenStore interface {
	// LoadToken reads the app's record; the zero record if there is none.
	LoadToken(ctx context.Context, appID string) (TokenRecord, error)
	// LeaseToken claims the refresh as l says; false when the condition
	// does not hold.
	LeaseToken(ctx context.Context, appID string, l Lease) (bool, error)
	// SaveToken stores t and ends holder's lease, if holder still holds
	// it; otherwise nothing is written and it is no error.
	SaveToken(ctx context.Context, appID, holder string, t Token) error
	// ReleaseToken ends holder's lease without a new token (the refresh
	// failed), so others need not wait for it to run out.
	ReleaseToken(ctx context.Context, appID, holder string) error
}

// Granted applies l's condition to r: the one statement of the rule, which
// stores implement as a conditional write.
func (l Lease) Granted(r TokenRecord) bool {
	if r.LeaseHolder != "" && r.LeaseHolder != l.Holder && r.LeaseUntil.After(l.Now) {
		return false
	}
	if l.Stale == "" {
		return r.Value == "" || r.ExpiresAt.Before(l.NeedBy)
	}
	return r.Value == l.Stale && !r.ForcedAt.After(l.ForcedBefore)
}

// usable reports whether t may be used at now.
func usable(t Token, now time.Time) bool {
	return t.Value != "" && t.ExpiresAt.Sub(now) > TokenMargin
}

// token is the app's access token: this process's copy while valid, else
// the stored one, else a fresh one fetched by whichever environment wins
// the lease while the others wait and read it. stale is a token WeChat
// just refused: it is not used again, and if it is still the stored one a
// forced refresh replaces it, at most once per ForcedRefreshGap.
func (c *Client) token(ctx context.Context, app App, stale string) (string, error) {
	const op = apierr.Op("wechat.token")
	if t, ok := c.cachedToken(app.ID); ok && t.Value != stale && usable(t, c.now()) {
		return t.Value, nil
	}
	lock := c.lockOf(app.ID)
	lock.Lock()
	defer lock.Unlock()
	if t, ok := c.cachedToken(app.ID); ok && t.Value != stale && usable(t, c.now()) {
		return t.Value, nil // refreshed by another goroutine meanwhile
	}
	giveUp := time.Now().Add(c.tokenWait)
	pause := 20 * time.Millisecond
	for {
		now := c.now()
		rec, err := c.tokens.LoadToken(ctx, app.ID)
		if err != nil {
			return "", apierr.E(op, err)
		}
		if rec.Value != stale && usable(rec.Token, now) {
			c.remember(app.ID, rec.Token)
			return rec.Value, nil
		}
		l := Lease{Holder: c.holder, Now: now, Until: now.Add(LeaseFor), NeedBy: now.Add(TokenMargin)}
		force := stale != "" && rec.Value == stale && usable(rec.Token, now)
		if force {
			l.Stale, l.ForcedBefore = stale, now.Add(-ForcedRefreshGap)
		}
		won, err := c.tokens.LeaseToken(ctx, app.ID, l)
		if err != nil {
			return "", apierr.E(op, err)
		}
		if won {
			return c.refresh(ctx, app, force)
		}
		refreshing := rec.LeaseHolder != "" && rec.LeaseUntil.After(now)
		if force && !refreshing && rec.ForcedAt.After(l.ForcedBefore) {
			return "", unavailable(op, APIStableToken, errors.New("the token was refused again within the forced-refresh gap"))
		}
		if time.Now().After(giveUp) {
			return "", unavailable(op, APIStableToken, errors.New("no token: another refresh did not finish in time"))
		}
		select {
		case <-ctx.Done():
			return "", unavailable(op, APIStableToken, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// refresh fetches a token with stable_token while holding the lease.
func (c *Client) refresh(ctx context.Context, app App, force bool) (string, error) {
	const op = apierr.Op("wechat.refresh")
	body := struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}{"client_credential", app.ID, app.Secret, force}
	var out struct {
		errorFields
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	start := c.now()
	_, err := c.roundTrip(ctx, op, APIStableToken, "POST", "/cgi-bin/stable_token", body, &out)
	if err == nil && (out.AccessToken == "" || out.ExpiresIn <= 0) {
		err = unavailable(op, APIStableToken, errors.New("no access_token in the answer"))
	}
	c.count(APIStableToken, start, err)
	if err != nil {
		// Others may try at once rather than wait for the lease to lapse.
		_ = c.tokens.ReleaseToken(context.WithoutCancel(ctx), app.ID, c.holder)
		return "", err
	}
	t := Token{Value: out.AccessToken, ExpiresAt: start.Add(time.Duration(out.ExpiresIn) * time.Second)}
	c.remember(app.ID, t)
	// A failed save costs others a fetch of their own (stable_token hands
	// them the same token); this environment has a working one.
	_ = c.tokens.SaveToken(ctx, app.ID, c.holder, t)
	return t.Value, nil
}

func (c *Client) cachedToken(appID string) (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.cached[appID]
	return t, ok
}

func (c *Client) remember(appID string, t Token) {
	c.mu.Lock()
	c.cached[appID] = t
	c.mu.Unlock()
}

// forget drops the process's copy of the app's token if it is tok.
func (c *Client) forget(appID, tok string) {
	c.mu.Lock()
	if c.cached[appID].Value == tok {
		delete(c.cached, appID)
	}
	c.mu.Unlock()
}

func (c *Client) lockOf(appID string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.locks[appID]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[appID] = l
	}
	return l
}

func newHolder() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MemoryTokens is a TokenStore for one process: a client's default, and
// a model of the rules the shared store keeps.
type MemoryTokens struct {
	mu   sync.Mutex
	apps map[string]TokenRecord
}

var _ TokenStore = (*MemoryTokens)(nil)

// NewMemoryTokens returns an empty store.
func NewMemoryTokens() *MemoryTokens { return &MemoryTokens{apps: map[string]TokenRecord{}} }

func (m *MemoryTokens) LoadToken(_ context.Context, appID string) (TokenRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apps[appID], nil
}

func (m *MemoryTokens) LeaseToken(_ context.Context, appID string, l Lease) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.apps[appID]
	if !l.Granted(r) {
		return false, nil
	}
	r.LeaseHolder, r.LeaseUntil = l.Holder, l.Until
	if l.Stale != "" {
		r.ForcedAt = l.Now
	}
	m.apps[appID] = r
	return true, nil
}

func (m *MemoryTokens) SaveToken(_ context.Context, appID, holder string, t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.apps[appID]
	if r.LeaseHolder != holder {
		return nil
	}
	r.Token, r.LeaseHolder, r.LeaseUntil = t, "", time.Time{}
	m.apps[appID] = r
	return nil
}

func (m *MemoryTokens) ReleaseToken(_ context.Context, appID, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.apps[appID]
	if r.LeaseHolder == holder {
		r.LeaseHolder, r.LeaseUntil = "", time.Time{}
		m.apps[appID] = r
	}
	return nil
}
