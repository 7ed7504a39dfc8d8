package hook

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/event"
)

const secret = "0123456789abcdef-secret"

func TestRuleValidate(t *testing.T) {
	issue := func(ev event.Type, tpl string, to Recipient) Rule {
		return Rule{ID: "r1", Event: ev, IssueCoupon: &IssueCoupon{TemplateID: tpl, To: to}}
	}
	hook := func(url, sec string) Rule {
		return Rule{ID: "r1", Event: event.CouponRedeemed, Webhook: &Webhook{URL: url, Secret: sec}}
	}
	tests := []struct {
		name     string
		rule     Rule
		loopback bool
		field    string // "" when valid
	}{
		{"referrer reward", issue(event.ReferralQualified, "tpl", Referrer), false, ""},
		{"members voucher", issue(event.GroupSucceeded, "tpl", Members), false, ""},
		{"user on redeem", issue(event.CouponRedeemed, "tpl", User), false, ""},
		{"https webhook", hook("https://crm.clinic.cn/hooks", secret), false, ""},
		{"loopback http allowed locally", hook("http://127.0.0.1:8080/h", secret), true, ""},
		{"localhost allowed locally", hook("http://localhost:8080/h", secret), true, ""},
		{"bad rule id", Rule{ID: "a b", Event: event.CouponIssued, Webhook: &Webhook{URL: "https://x.cn", Secret: secret}}, false, "ruleId"},
		{"builtin rule id", Rule{ID: "builtin:x", Event: event.CouponIssued, Webhook: &Webhook{URL: "https://x.cn", Secret: secret}}, false, "ruleId"},
		{"no event", Rule{ID: "r", Webhook: &Webhook{URL: "https://x.cn", Secret: secret}}, false, "event"},
		{"unknown event", Rule{ID: "r", Event: "referral.clicked", Webhook: &Webhook{URL: "https://x.cn", Secret: secret}}, false, "event"},
		{"no action", Rule{ID: "r", Event: event.CouponIssued}, false, "issueCoupon"},
		{"both actions", Rule{ID: "r", Event: event.CouponRedeemed, Webhook: &Webhook{URL: "https://x.cn", Secret: secret}, IssueCoupon: &IssueCoupon{TemplateID: "t", To: User}}, false, "issueCoupon"},
		{"no template", issue(event.ReferralBound, "", Referrer), false, "issueCoupon.templateId"},
		{"bad template", issue(event.ReferralBound, "a#b", Referrer), false, "issueCoupon.templateId"},
		{"no recipient", issue(event.ReferralBound, "t", ""), false, "issueCoupon.to"},
		{"unknown recipient", issue(event.ReferralBound, "t", "friend"), false, "issueCoupon.to"},
		{"referrer of a group", issue(event.GroupSucceeded, "t", Referrer), false, "issueCoupon.to"},
		{"leader of a referral", issue(event.ReferralBound, "t", Leader), false, "issueCoupon.to"},
		{"coupon loop", issue(event.CouponIssued, "t", User), false, "event"},
		{"erasure to a webhook", Rule{ID: "r", Event: event.UserErased, Webhook: &Webhook{URL: "https://crm.clinic.cn/hooks", Secret: secret}}, false, ""},
		{"coupon for an erased user", issue(event.UserErased, "t", User), false, "event"},
		{"no url", hook("", secret), false, "webhook.url"},
		{"no secret", hook("https://x.cn", ""), false, "webhook.secret"},
		{"short secret", hook("https://x.cn", "short"), false, "webhook.secret"},
		{"http", hook("http://crm.clinic.cn/h", secret), true, "webhook.url"},
		{"loopback in AWS", hook("http://127.0.0.1:8080/h", secret), false, "webhook.url"},
		{"https loopback in AWS", hook("https://localhost/h", secret), false, "webhook.url"},
		{"private address", hook("https://10.0.0.1/h", secret), false, "webhook.url"},
		{"metadata service", hook("https://169.254.169.254/latest", secret), false, "webhook.url"},
		{"user in url", hook("https://a:b@x.cn/h", secret), false, "webhook.url"},
		{"relative url", hook("/hooks", secret), false, "webhook.url"},
		{"ftp", hook("ftp://x.cn/h", secret), true, "webhook.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rule.Validate(tt.loopback)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, apierr.BadRequest, apierr.KindOf(err), "%v", err)
			require.Contains(t, apierr.Message(err), `"`+tt.field+`"`)
		})
	}
}

func TestRecipients(t *testing.T) {
	group := event.Event{Type: event.GroupSucceeded, Data: map[string]any{
		"leaderId": "u1",
		"members":  []any{map[string]any{"userId": "u2"}, map[string]any{"userId": "u1"}, map[string]any{"userId": "u2"}},
	}}
	got, err := Recipients(group, Members)
	require.NoError(t, err)
	require.Equal(t, []string{"u1", "u2"}, got, "once each")

	got, err = Recipients(group, Leader)
	require.NoError(t, err)
	require.Equal(t, []string{"u1"}, got)

	settled := event.Event{Type: event.GroupSucceeded, Data: map[string]any{
		"members": []any{map[string]any{"userId": "u2", "leader": false}, map[string]any{"userId": "u3", "leader": true}},
	}}
	got, err = Recipients(settled, Leader)
	require.NoError(t, err)
	require.Equal(t, []string{"u3"}, got, "the member marked leader")

	_, err = Recipients(group, User)
	require.Error(t, err, "no userId in the data")

	bad := event.Event{Type: event.ReferralBound, Data: map[string]any{"referrerId": "x#y"}}
	_, err = Recipients(bad, Referrer)
	require.Error(t, err, "not an id: never put into a key")
}

func TestSign(t *testing.T) {
	// echo -n '{"a":1}' | openssl dgst -sha256 -hmac key
	require.Equal(t, "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342", Sign("key", []byte(`{"a":1}`)))
	a, b := Sign("key", []byte("body")), Sign("key", []byte("body"))
	require.Equal(t, a, b)
	require.NotEqual(t, a, Sign("other", []byte("body")))
	require.Regexp(t, `^sha256=[0-9a-f]{64}$`, a)
	require.Equal(t, "****cret", MaskSecret(secret))
	require.Equal(t, "****", MaskSecret("abc"))
}

func testEvent() event.Event {
	return event.New(event.CouponRedeemed, "clinic-a", time.Now(), map[string]any{"couponCode": "ABCDEFGHJK", "userId": "u1"})
}

func fastDeliverer() *Deliverer {
	d := NewDeliverer(func() bool { return true })
	d.Backoff = time.Millisecond
	return d
}

func TestDeliverSignsAndRetries(t *testing.T) {
	var hits atomic.Int32
	var mu sync.Mutex
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		mu.Lock()
		got, body = r, must(io.ReadAll(r.Body))
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()

	e := testEvent()
	res, err := fastDeliverer().Deliver(context.Background(), Webhook{URL: srv.URL, Secret: secret}, e)
	require.NoError(t, err)
	require.True(t, res.OK)
	require.Equal(t, 3, res.Attempts)
	require.Equal(t, http.StatusOK, res.Status)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, e.ID, got.Header.Get(HeaderEventID))
	require.Equal(t, "application/json", got.Header.Get("Content-Type"))
	require.True(t, hmac.Equal([]byte(Sign(secret, body)), []byte(got.Header.Get(HeaderSignature))))
	var sent map[string]any
	require.NoError(t, json.Unmarshal(body, &sent))
	for _, k := range []string{"id", "type", "tenant", "occurredAt", "data"} {
		require.Contains(t, sent, k)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestDeliverGivesUp(t *testing.T) {
	var hits atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusFound))
	defer redirect.Close()

	d := fastDeliverer()
	res, err := d.Deliver(context.Background(), Webhook{URL: failing.URL, Secret: secret}, testEvent())
	require.NoError(t, err)
	require.False(t, res.OK)
	require.Equal(t, DefaultAttempts, res.Attempts)
	require.Equal(t, int32(DefaultAttempts), hits.Load())
	require.Equal(t, 500, res.Status)

	res, err = d.Deliver(context.Background(), Webhook{URL: redirect.URL, Secret: secret}, testEvent())
	require.NoError(t, err)
	require.False(t, res.OK, "redirects are not followed")
	require.Equal(t, http.StatusFound, res.Status)

	d.AllowLoopback = func() bool { return false }
	res, err = d.Deliver(context.Background(), Webhook{URL: failing.URL, Secret: secret}, testEvent())
	require.NoError(t, err)
	require.False(t, res.OK)
	require.Zero(t, res.Attempts, "a URL no longer allowed is not called")

	// Out of time: retried by a later invocation, not dead-lettered.
	slow := fastDeliverer()
	slow.Backoff = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = slow.Deliver(ctx, Webhook{URL: failing.URL, Secret: secret}, testEvent())
	require.ErrorIs(t, err, ErrNoTime)
}

// fakeStore and fakeIssuer stand in for DynamoDB in the dispatcher's logic
// tests; that effects happen once under concurrency is proven against
// DynamoDB Local in package api.
type fakeStore struct {
	mu      sync.Mutex
	rules   []Rule
	done    map[string]bool
	letters []DeadLetter
}

func (f *fakeStore) Rules(context.Context, string) ([]Rule, error) { return f.rules, nil }
func (f *fakeStore) EffectDone(_ context.Context, fx string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done[fx], nil
}
func (f *fakeStore) MarkDone(_ context.Context, _, fx string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done[fx] = true
	return nil
}
func (f *fakeStore) DeadLetter(_ context.Context, dl DeadLetter, fx string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done[fx] {
		f.done[fx] = true
		f.letters = append(f.letters, dl)
	}
	return nil
}

type fakeIssuer struct {
	mu     sync.Mutex
	issued map[string]coupon.Reward
	fail   error
}

func (f *fakeIssuer) IssueReward(_ context.Context, r coupon.Reward) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return false, f.fail
	}
	if _, ok := f.issued[r.Effect]; ok {
		return false, nil
	}
	f.issued[r.Effect] = r
	return true, nil
}

func newDispatcher(rules ...Rule) (*Dispatcher, *fakeStore, *fakeIssuer) {
	st := &fakeStore{rules: rules, done: map[string]bool{}}
	is := &fakeIssuer{issued: map[string]coupon.Reward{}}
	return &Dispatcher{Store: st, Rules: NewRuleCache(st, time.Second), Coupons: is, Webhooks: fastDeliverer()}, st, is
}

func TestDispatchGroupVouchers(t *testing.T) {
	d, st, is := newDispatcher(Rule{ID: "leader-bonus", Event: event.GroupSucceeded, IssueCoupon: &IssueCoupon{TemplateID: "bonus", To: Leader}})
	e := event.New(event.GroupSucceeded, "clinic-a", time.Now(), map[string]any{
		"groupId": "G1", "dealId": "d1", "voucherTemplateId": "facial", "leaderId": "u1",
		"members": []any{
			map[string]any{"userId": "u1", "priceFen": float64(9900), "leader": true},
			map[string]any{"userId": "u2", "priceFen": float64(12900), "leader": false},
		},
	})
	require.NoError(t, d.Dispatch(context.Background(), e))
	require.NoError(t, d.Dispatch(context.Background(), e), "a redelivery")
	require.Len(t, is.issued, 3)
	u1 := is.issued[Effect(e.ID, GroupVoucherRule, "u1")]
	require.Equal(t, coupon.FromGroup, u1.Source)
	require.Equal(t, int64(9900), *u1.PriceFen)
	require.Equal(t, int64(12900), *is.issued[Effect(e.ID, GroupVoucherRule, "u2")].PriceFen)
	require.Equal(t, coupon.FromHook, is.issued[Effect(e.ID, "leader-bonus", "u1")].Source)
	require.Empty(t, st.letters)

	noVoucher := event.New(event.GroupSucceeded, "clinic-a", time.Now(), map[string]any{"voucherTemplateId": "", "members": []any{}})
	require.NoError(t, d.Dispatch(context.Background(), noVoucher))
	require.Len(t, st.letters, 1, "the leader rule names no leader: dead-lettered, not retried")
}

func TestDispatchFailures(t *testing.T) {
	rule := Rule{ID: "welcome", Event: event.ReferralBound, IssueCoupon: &IssueCoupon{TemplateID: "gone", To: Referee}}
	e := event.New(event.ReferralBound, "clinic-a", time.Now(), map[string]any{"referrerId": "u1", "refereeId": "u2"})

	d, st, is := newDispatcher(rule)
	is.fail = apierr.E(apierr.TemplateNotFound, "no such coupon template")
	require.NoError(t, d.Dispatch(context.Background(), e), "permanent: dead-lettered")
	require.NoError(t, d.Dispatch(context.Background(), e))
	require.Len(t, st.letters, 1, "once per effect")
	require.Equal(t, "u2", st.letters[0].Recipient)
	require.Equal(t, "issueCoupon", st.letters[0].Action)

	d, st, is = newDispatcher(rule)
	is.fail = errors.New("throttled")
	require.Error(t, d.Dispatch(context.Background(), e), "transient: the record is retried")
	require.Empty(t, st.letters)
}

func TestDispatchWebhookOnce(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	d, st, _ := newDispatcher(
		Rule{ID: "crm", Event: event.CouponRedeemed, Webhook: &Webhook{URL: srv.URL, Secret: secret}},
		Rule{ID: "other-event", Event: event.CouponIssued, Webhook: &Webhook{URL: srv.URL, Secret: secret}},
	)
	e := testEvent()
	require.NoError(t, d.Dispatch(context.Background(), e))
	require.NoError(t, d.Dispatch(context.Background(), e))
	require.Equal(t, int32(1), hits.Load(), "a delivered event is not sent again")
	keys := make([]string, 0, len(st.done))
	for k := range st.done {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Equal(t, []string{Effect(e.ID, "crm", "webhook")}, keys)
	require.False(t, strings.Contains(keys[0], secret))
}
