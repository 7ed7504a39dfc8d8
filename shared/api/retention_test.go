package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/idempotency"
)

// TestRetentionSetsEachRecordsTTL: every item that only records what
// happened carries the table's TTL attribute ("ttl", epoch seconds) at its
// configured retention from when it was written, written through the route
// or stream that writes it in AWS; the items that hold what a patient is
// and did never expire on their own.
func TestRetentionSetsEachRecordsTTL(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	retention := config.Retention{Events: 3 * day, IdempotencyKeys: 30 * time.Hour, Clicks: 2 * day, DeadLetters: 5 * day}
	s := newStackWith(t, func(c *config.Config) { c.Retention = retention })
	now := time.Now().UTC().Truncate(time.Second)
	s.deps.Store.Now = func() time.Time { return now }
	s.allowLoopbackWebhooks()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer broken.Close()

	const tenant = "clinic-a"
	boss := couponAdmin(tenant)
	r := s.putHook(boss, "crm", fmt.Sprintf(`{"event":"referral.bound","webhook":{"url":%q,"secret":"crm-secret-0123456789"}}`, broken.URL))
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	s.putTemplate(tenant, "welcome", map[string]any{"stock": 10})
	alice, bob := patient(tenant, "alice"), patient(tenant, "bob")
	code := s.codeOf(alice)

	// A click, a bind and a claim (each key's record written with the
	// route's write), then the stream: the bind's event goes to a webhook
	// that fails for good.
	r = s.do(call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": code}})
	require.Equal(t, http.StatusNoContent, r.Status, r.Body)
	r = s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: bob, body: fmt.Sprintf(`{"code":%q}`, code),
		headers: map[string]string{"Idempotency-Key": "bind-1"}})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	r = s.do(call{fn: "coupons", route: "POST /v1/coupons/claim", as: bob, body: `{"templateId":"welcome"}`,
		headers: map[string]string{"Idempotency-Key": "claim-1"}})
	require.Equal(t, http.StatusCreated, r.Status, r.Body)
	drainHooks(t, s)

	items := s.scan()
	str := func(it map[string]types.AttributeValue, name string) string {
		v, _ := it[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	ofKind := func(kind string) func(map[string]types.AttributeValue) bool {
		return func(it map[string]types.AttributeValue) bool { return str(it, "kind") == kind }
	}
	keyRecord := func(user, key string) func(map[string]types.AttributeValue) bool {
		pk := "IDEM#" + idempotency.Scope(tenant, user, key)
		return func(it map[string]types.AttributeValue) bool { return str(it, "pk") == pk }
	}
	tests := []struct {
		name  string
		items func(map[string]types.AttributeValue) bool
		keep  time.Duration
	}{
		{"events", ofKind("event"), retention.Events},
		{"Idempotency-Key written with a bind", keyRecord("bob", "bind-1"), retention.IdempotencyKeys},
		{"Idempotency-Key written with a claim", keyRecord("bob", "claim-1"), retention.IdempotencyKeys},
		{"opened share links", ofKind("open"), retention.Clicks},
		{"dead letters", ofKind("deadLetter"), retention.DeadLetters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found int
			for _, it := range items {
				if !tt.items(it) {
					continue
				}
				found++
				ttl, ok := it["ttl"].(*types.AttributeValueMemberN)
				require.True(t, ok, "%s / %s carries no ttl", str(it, "pk"), str(it, "sk"))
				require.Equal(t, strconv.FormatInt(now.Add(tt.keep).Unix(), 10), ttl.Value, "%s / %s", str(it, "pk"), str(it, "sk"))
			}
			require.NotZero(t, found, "the scenario wrote no such item")
		})
	}

	// Only records of what happened expire; effects (once per event, rule
	// and recipient) outlive the stream's redelivery, and a month's reward
	// cap outlives its month.
	expiring := map[string]bool{"event": true, "idempotency": true, "open": true, "deadLetter": true, "effect": true, "referralCap": true}
	for _, it := range items {
		if _, ok := it["ttl"]; ok {
			require.True(t, expiring[str(it, "kind")], "%s / %s (kind %q) expires", str(it, "pk"), str(it, "sk"), str(it, "kind"))
		}
	}
}

// TestIdempotencyKeyPastItsRetentionIsFree: TTL deletion lags by days, so
// an Idempotency-Key record still present after its retention is treated
// as gone: the key is free for a new request. Within its retention the
// same key with another body is IDEMPOTENCY_KEY_REUSED. Both ways a record
// joins its route's write: with a write of one item (settings) and with a
// transaction of the route's own (a claim).
func TestIdempotencyKeyPastItsRetentionIsFree(t *testing.T) {
	t.Parallel()
	const keep = 30 * time.Hour
	tenant := "clinic-a"
	tests := []struct {
		name        string
		fn, route   string
		as          who
		first, next string
		ok          int
	}{
		{name: "with a write of one item", fn: "admin", route: "PUT /v1/admin/settings", as: admin(tenant),
			first: `{"holdDays":7,"bindingWindowDays":30}`, next: `{"holdDays":3,"bindingWindowDays":30}`, ok: http.StatusOK},
		{name: "with a transaction", fn: "coupons", route: "POST /v1/coupons/claim", as: patient(tenant, "bob"),
			first: `{"templateId":"welcome"}`, next: `{"templateId":"spring"}`, ok: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStackWith(t, func(c *config.Config) { c.Retention.IdempotencyKeys = keep }, ddbtest.WithoutStream())
			s.putTemplate(tenant, "welcome", map[string]any{"stock": 10})
			s.putTemplate(tenant, "spring", map[string]any{"stock": 10})
			start := time.Now().UTC().Truncate(time.Second)
			at := start
			s.deps.Store.Now = func() time.Time { return at }
			keyed := func(body string) reply {
				return s.do(call{fn: tt.fn, route: tt.route, as: tt.as, body: body, headers: map[string]string{"Idempotency-Key": "k-1"}})
			}

			r := keyed(tt.first)
			require.Equal(t, tt.ok, r.Status, r.Body)

			at = start.Add(keep) // the record's last second
			r = keyed(tt.next)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, r.Body)
			require.Equal(t, "IDEMPOTENCY_KEY_REUSED", r.Code(t))

			at = start.Add(keep + time.Second) // expired, not yet deleted
			r = keyed(tt.next)
			require.Equal(t, tt.ok, r.Status, "a new request under the freed key: %s", r.Body)
			again := keyed(tt.next)
			require.Equal(t, r.Status, again.Status)
			require.Equal(t, r.Body, again.Body, "the new record replays")
		})
	}
}
