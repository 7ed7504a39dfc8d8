package api

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/runner"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/stream"
)

// hookPollers keeps one stream poller per stack, so each drain resumes
// where the last one stopped, as the event source mapping does.
var hookPollers sync.Map // *stack → *runner.StreamPoller

// newStreamPoller reads the stack's table stream and hands it to handler.
func (s *stack) newStreamPoller(handler runner.StreamHandler) *runner.StreamPoller {
	s.t.Helper()
	p, err := runner.NewStreamPoller(runner.StreamConfig{
		Streams:   ddblocal.NewStreamsClient(s.db.Endpoint, s.db.Client.Options().Region),
		DynamoDB:  s.db.Client,
		Table:     s.db.Table,
		BatchSize: 50, // template.yaml's event source takes up to 500
		Handler:   handler,
		Logger:    logging.Discard(),
	})
	require.NoError(s.t, err)
	return p
}

// drainHooks delivers everything in the stack's stream to the hooks
// function, including what the hooks function itself writes (coupon.issued
// events of the coupons it issued), until the stream is quiet.
func drainHooks(t *testing.T, s *stack) {
	t.Helper()
	p, ok := hookPollers.Load(s)
	if !ok {
		p, _ = hookPollers.LoadOrStore(s, s.newStreamPoller(stream.Hooks(s.deps)))
	}
	poller := p.(*runner.StreamPoller)
	var lastErr error
	for failures, polls := 0, 0; polls < 200; polls++ {
		n, err := poller.PollOnce(context.Background())
		if err != nil {
			// A record reported failed comes again on the next poll.
			if failures++; failures > 5 {
				t.Fatalf("drainHooks: the stream keeps failing: %v", err)
			}
			lastErr = err
			continue
		}
		if n == 0 {
			return
		}
	}
	t.Fatalf("drainHooks: the stream never went quiet (last error: %v)", lastErr)
}

// streamedEvents reads the whole stream afresh and returns the records of
// new event items of type typ, as the hooks function receives them.
func (s *stack) streamedEvents(typ event.Type) []events.DynamoDBEventRecord {
	s.t.Helper()
	var mu sync.Mutex
	var out []events.DynamoDBEventRecord
	p := s.newStreamPoller(func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			if e, ok, err := dynamo.StreamEvent(r); err == nil && ok && e.Type == typ {
				out = append(out, r)
			}
		}
		return events.DynamoDBEventResponse{}, nil
	})
	for {
		n, err := p.PollOnce(context.Background())
		require.NoError(s.t, err)
		if n == 0 {
			return out
		}
	}
}

func (s *stack) putHook(as who, ruleID, body string) reply {
	return s.do(call{fn: "admin", route: "PUT /v1/admin/hooks/{ruleId}", params: map[string]string{"ruleId": ruleID}, as: as, body: body})
}

func (s *stack) deadLetters(as who) []any {
	s.t.Helper()
	r := s.do(call{fn: "admin", route: "GET /v1/admin/hooks/dead-letters", as: as})
	require.Equal(s.t, 200, r.Status, r.Body)
	return r.JSON(s.t)["deadLetters"].([]any)
}

// allowLoopbackWebhooks lets rules point at httptest servers, as the local
// runner does, with retries that pause a millisecond.
func (s *stack) allowLoopbackWebhooks() {
	s.deps.Config.AllowLoopbackWebhooks = true
	s.deps.Hooks().Dispatcher.Webhooks.Backoff = time.Millisecond
}

// referralBound binds a fresh newcomer to referrer and returns them.
func (s *stack) referralBound(referrer who, newcomer string) who {
	s.t.Helper()
	n := patient(referrer["tenant"], newcomer)
	r := s.bind(n, s.codeOf(referrer))
	require.Equal(s.t, 200, r.Status, r.Body)
	return n
}

func TestHookRuleValidation(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "welcome", map[string]any{"claimable": false})
	boss := couponAdmin("clinic-a")
	tests := []struct {
		name   string
		as     who
		body   string
		status int
		errc   string
		field  string
	}{
		{"issue", boss, `{"event":"referral.bound","issueCoupon":{"templateId":"welcome","to":"referrer"}}`, 200, "", ""},
		{"webhook", boss, `{"event":"coupon.redeemed","webhook":{"url":"https://crm.clinic.cn/h","secret":"0123456789abcdef"}}`, 200, "", ""},
		{"patient", patient("clinic-a", "p"), `{"event":"referral.bound","issueCoupon":{"templateId":"welcome","to":"referrer"}}`, 403, "FORBIDDEN", ""},
		{"staff", staff("clinic-a", "desk"), `{"event":"referral.bound","issueCoupon":{"templateId":"welcome","to":"referrer"}}`, 403, "FORBIDDEN", ""},
		{"no event", boss, `{"issueCoupon":{"templateId":"welcome","to":"referrer"}}`, 400, "BAD_REQUEST", "event"},
		{"unknown event", boss, `{"event":"visit.made","issueCoupon":{"templateId":"welcome","to":"user"}}`, 400, "BAD_REQUEST", "event"},
		{"no action", boss, `{"event":"referral.bound"}`, 400, "BAD_REQUEST", "issueCoupon"},
		{"both actions", boss, `{"event":"coupon.redeemed","issueCoupon":{"templateId":"welcome","to":"user"},"webhook":{"url":"https://x.cn","secret":"0123456789abcdef"}}`, 400, "BAD_REQUEST", "issueCoupon"},
		{"no template", boss, `{"event":"referral.bound","issueCoupon":{"to":"referrer"}}`, 400, "BAD_REQUEST", "issueCoupon.templateId"},
		{"bad recipient", boss, `{"event":"referral.bound","issueCoupon":{"templateId":"welcome","to":"friend"}}`, 400, "BAD_REQUEST", "issueCoupon.to"},
		{"leader of a referral", boss, `{"event":"referral.bound","issueCoupon":{"templateId":"welcome","to":"leader"}}`, 400, "BAD_REQUEST", "issueCoupon.to"},
		{"coupon loop", boss, `{"event":"coupon.issued","issueCoupon":{"templateId":"welcome","to":"user"}}`, 400, "BAD_REQUEST", "event"},
		{"unknown template", boss, `{"event":"referral.bound","issueCoupon":{"templateId":"nope","to":"referrer"}}`, 404, "TEMPLATE_NOT_FOUND", "issueCoupon.templateId"},
		{"other clinic's template", couponAdmin("clinic-b"), `{"event":"referral.bound","issueCoupon":{"templateId":"welcome","to":"referrer"}}`, 404, "TEMPLATE_NOT_FOUND", ""},
		{"http url", boss, `{"event":"coupon.redeemed","webhook":{"url":"http://crm.clinic.cn/h","secret":"0123456789abcdef"}}`, 400, "BAD_REQUEST", "webhook.url"},
		{"loopback url in AWS", boss, `{"event":"coupon.redeemed","webhook":{"url":"http://127.0.0.1:9/h","secret":"0123456789abcdef"}}`, 400, "BAD_REQUEST", "webhook.url"},
		{"short secret", boss, `{"event":"coupon.redeemed","webhook":{"url":"https://x.cn","secret":"short"}}`, 400, "BAD_REQUEST", "webhook.secret"},
		{"unknown field", boss, `{"event":"coupon.redeemed","webhook":{"url":"https://x.cn","secret":"0123456789abcdef","method":"GET"}}`, 400, "BAD_REQUEST", ""},
		{"wrong type", boss, `{"event":7}`, 400, "BAD_REQUEST", "event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.putHook(tt.as, "rule-1", tt.body)
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.errc, r.Code(t))
			if tt.field != "" {
				require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], `"`+tt.field+`"`)
			}
		})
	}
	t.Run("builtin rule ids are reserved", func(t *testing.T) {
		r := s.putHook(boss, "builtin:group-voucher", `{"event":"coupon.redeemed","webhook":{"url":"https://x.cn","secret":"0123456789abcdef"}}`)
		require.Equal(t, 400, r.Status, r.Body)
	})

	t.Run("list masks the secret", func(t *testing.T) {
		r := s.putHook(boss, "crm", `{"event":"coupon.redeemed","webhook":{"url":"https://crm.clinic.cn/h","secret":"0123456789abcdef-wxyz"}}`)
		require.Equal(t, 200, r.Status, r.Body)
		require.NotContains(t, r.Body, "0123456789abcdef")
		list := s.do(call{fn: "admin", route: "GET /v1/admin/hooks", as: boss})
		require.Equal(t, 200, list.Status, list.Body)
		require.NotContains(t, list.Body, "0123456789abcdef")
		rules := list.JSON(t)["rules"].([]any)
		require.Len(t, rules, 2, "rule-1 (replaced by the last valid PUT) and crm")
		for _, x := range rules {
			if rule := x.(map[string]any); rule["ruleId"] == "crm" {
				require.Equal(t, "****wxyz", rule["webhook"].(map[string]any)["secret"])
			}
		}
		other := s.do(call{fn: "admin", route: "GET /v1/admin/hooks", as: couponAdmin("clinic-b")})
		require.Equal(t, `[]`, mustJSON(t, other.JSON(t)["rules"]), "another clinic sees none")
		for _, as := range []who{patient("clinic-a", "p"), staff("clinic-a", "desk")} {
			require.Equal(t, 403, s.do(call{fn: "admin", route: "GET /v1/admin/hooks", as: as}).Status)
			require.Equal(t, 403, s.do(call{fn: "admin", route: "GET /v1/admin/hooks/dead-letters", as: as}).Status)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestReferralBoundHookIssuesOneCoupon(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "thanks", map[string]any{"claimable": false, "stock": 10})
	r := s.putHook(couponAdmin("clinic-a"), "thank-referrer", `{"event":"referral.bound","issueCoupon":{"templateId":"thanks","to":"referrer"}}`)
	require.Equal(t, 200, r.Status, r.Body)

	alice := patient("clinic-a", "alice")
	bob := s.referralBound(alice, "bob")
	drainHooks(t, s)
	drainHooks(t, s)

	mine := s.myCoupons(alice)
	require.Len(t, mine, 1, "one coupon for the referrer")
	require.Equal(t, "thanks", mine[0]["templateId"])
	require.Equal(t, "hook", mine[0]["source"])
	require.Equal(t, "ISSUED", mine[0]["status"])
	require.Empty(t, s.myCoupons(bob), "none for the referee")
	require.Len(t, s.couponItems("thanks"), 1)
}

func TestStreamRecordDeliveredManyTimes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "thanks", map[string]any{"stock": 10})
	r := s.putHook(couponAdmin("clinic-a"), "thank-referrer", `{"event":"referral.bound","issueCoupon":{"templateId":"thanks","to":"referrer"}}`)
	require.Equal(t, 200, r.Status, r.Body)
	alice := patient("clinic-a", "alice")
	s.referralBound(alice, "bob")

	bound := s.streamedEvents(event.ReferralBound)
	require.Len(t, bound, 1)
	batch := events.DynamoDBEvent{Records: bound}

	// Two invocations in two warm functions (their own caches) race.
	racers := []func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error){
		stream.Hooks(s.deps), stream.Hooks(app.DepsWith(s.deps.Store.DB, s.deps.Config, logging.Discard())),
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, h := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := h(context.Background(), batch)
			require.NoError(t, err)
			require.Empty(t, resp.BatchItemFailures)
		}()
	}
	close(start)
	wg.Wait()
	// And the stream delivers it again, three times.
	for range 3 {
		resp, err := racers[0](context.Background(), batch)
		require.NoError(t, err)
		require.Empty(t, resp.BatchItemFailures)
	}
	require.Len(t, s.couponItems("thanks"), 1, "one coupon")
	require.Len(t, s.myCoupons(alice), 1)

	// The coupon.issued it wrote counts once against the stock, however
	// often it comes.
	issued := s.streamedEvents(event.CouponIssued)
	require.Len(t, issued, 1)
	for range 3 {
		resp, err := racers[1](context.Background(), events.DynamoDBEvent{Records: issued})
		require.NoError(t, err)
		require.Empty(t, resp.BatchItemFailures)
	}
	drainHooks(t, s)
	require.Equal(t, 9.0, s.templateListed("clinic-a", "thanks")["remaining"])
}

func TestHooksReportTransientFailures(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "thanks", map[string]any{"claimable": false})
	require.Equal(t, 200, s.putHook(couponAdmin("clinic-a"), "r", `{"event":"referral.bound","issueCoupon":{"templateId":"thanks","to":"referrer"}}`).Status)
	alice := patient("clinic-a", "alice")
	s.referralBound(alice, "bob")
	bound := s.streamedEvents(event.ReferralBound)
	require.Len(t, bound, 1)

	// A cold function whose DynamoDB calls fail: the record is reported.
	cold := stream.Hooks(app.DepsWith(s.deps.Store.DB, s.deps.Config, logging.Discard()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := cold(ctx, events.DynamoDBEvent{Records: bound})
	require.NoError(t, err)
	require.Equal(t, []events.DynamoDBBatchItemFailure{{ItemIdentifier: bound[0].Change.SequenceNumber}}, resp.BatchItemFailures)
	require.Empty(t, s.myCoupons(alice))

	// Its retry succeeds; records that are no events are skipped.
	other := events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{
		SequenceNumber: "1", Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("EVT#x")},
	}}
	resp, err = cold(context.Background(), events.DynamoDBEvent{Records: append([]events.DynamoDBEventRecord{other}, bound...)})
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)
	require.Len(t, s.myCoupons(alice), 1)
}

func TestWebhookSignedAndDeadLettered(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.allowLoopbackWebhooks()
	const secret = "crm-secret-0123456789"

	type received struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var got []received
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer crm.Close()
	var brokenHits atomic.Int32
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		brokenHits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer broken.Close()

	boss := couponAdmin("clinic-a")
	for id, url := range map[string]string{"crm": crm.URL + "/laoyou", "broken": broken.URL} {
		r := s.putHook(boss, id, fmt.Sprintf(`{"event":"referral.bound","webhook":{"url":%q,"secret":%q}}`, url, secret))
		require.Equal(t, 200, r.Status, r.Body)
	}
	alice := patient("clinic-a", "alice")
	s.referralBound(alice, "bob")
	drainHooks(t, s)

	mu.Lock()
	require.Len(t, got, 1, "delivered once")
	h, body := got[0].header, got[0].body
	mu.Unlock()
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.True(t, hmac.Equal([]byte(hook.Sign(secret, body)), []byte(h.Get("X-Laoyou-Signature"))), "valid signature")
	var sent map[string]any
	require.NoError(t, json.Unmarshal(body, &sent))
	require.Equal(t, sent["id"], h.Get("X-Laoyou-Event-Id"))
	require.Equal(t, "referral.bound", sent["type"])
	require.Equal(t, "clinic-a", sent["tenant"])
	require.NotEmpty(t, sent["occurredAt"])
	require.Equal(t, "alice", sent["data"].(map[string]any)["referrerId"])
	require.NotContains(t, string(body), "张", "ids only, no names")

	require.Equal(t, int32(hook.DefaultAttempts), brokenHits.Load(), "retried, then given up")
	dls := s.deadLetters(boss)
	require.Len(t, dls, 1)
	dl := dls[0].(map[string]any)
	require.Equal(t, "broken", dl["ruleId"])
	require.Equal(t, "webhook", dl["action"])
	require.Equal(t, sent["id"], dl["eventId"])
	require.Equal(t, "referral.bound", dl["eventType"])
	require.Equal(t, broken.URL, dl["url"])
	require.Equal(t, float64(hook.DefaultAttempts), dl["attempts"])
	require.Equal(t, 500.0, dl["status"])
	require.Equal(t, "http_500", dl["error"], "a fixed reason")
	require.Equal(t, sent["id"], dl["payload"].(map[string]any)["id"])
	require.NotContains(t, mustJSON(t, dl), secret, "never the secret")
	require.Empty(t, s.deadLetters(couponAdmin("clinic-b")), "another clinic's dead letters are not shown")

	// The stream delivers the event again: nothing is sent or kept twice.
	bound := s.streamedEvents(event.ReferralBound)
	resp, err := stream.Hooks(s.deps)(context.Background(), events.DynamoDBEvent{Records: bound})
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)
	require.Len(t, s.deadLetters(boss), 1)
	require.Equal(t, int32(hook.DefaultAttempts), brokenHits.Load())
	mu.Lock()
	require.Len(t, got, 1)
	mu.Unlock()
}

func TestGroupSucceededIssuesVouchers(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "facial-voucher", map[string]any{
		"kind": "VOUCHER", "valueFen": 29900, "claimable": false, "stock": 0,
	})
	e := event.New(event.GroupSucceeded, "clinic-a", time.Now(), map[string]any{
		"groupId": "G1", "dealId": "facial", "dealTitle": "闺蜜卡", "voucherTemplateId": "facial-voucher",
		"members": []map[string]any{
			{"userId": "leader", "priceFen": 9900, "leader": true},
			{"userId": "friend", "priceFen": 12900, "leader": false},
		},
	})
	store := dynamo.HookStore{Store: s.deps.Store}
	require.NoError(t, store.RecordEvent(context.Background(), e))
	noVoucher := event.New(event.GroupSucceeded, "clinic-a", time.Now(), map[string]any{
		"groupId": "G2", "dealId": "x", "voucherTemplateId": "", "members": []map[string]any{{"userId": "leader", "priceFen": 1, "leader": true}},
	})
	require.NoError(t, store.RecordEvent(context.Background(), noVoucher))
	drainHooks(t, s)
	// Delivered again.
	resp, err := stream.Hooks(s.deps)(context.Background(), events.DynamoDBEvent{Records: s.streamedEvents(event.GroupSucceeded)})
	require.NoError(t, err)
	require.Empty(t, resp.BatchItemFailures)

	for user, price := range map[string]float64{"leader": 9900, "friend": 12900} {
		mine := s.myCoupons(patient("clinic-a", user))
		require.Len(t, mine, 1, user)
		require.Equal(t, "group", mine[0]["source"])
		require.Equal(t, "VOUCHER", mine[0]["kind"])
		require.Equal(t, price, mine[0]["priceFen"], "the member's price")
	}
	require.Len(t, s.couponItems("facial-voucher"), 2)
}

func TestHookRewardFailingForGoodIsDeadLettered(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "tiny", map[string]any{"claimable": false, "stock": 1})
	boss := couponAdmin("clinic-a")
	require.Equal(t, 200, s.putHook(boss, "thanks", `{"event":"referral.bound","issueCoupon":{"templateId":"tiny","to":"referrer"}}`).Status)
	alice := patient("clinic-a", "alice")
	s.referralBound(alice, "bob")
	s.referralBound(alice, "carol")
	drainHooks(t, s)
	require.Len(t, s.myCoupons(alice), 1, "the stock of one")
	dls := s.deadLetters(boss)
	require.Len(t, dls, 1, "the second reward is kept, not dropped nor retried forever")
	dl := dls[0].(map[string]any)
	require.Equal(t, "issueCoupon", dl["action"])
	require.Equal(t, "alice", dl["recipient"])
	require.True(t, strings.HasPrefix(dl["error"].(string), "OUT_OF_STOCK"), dl["error"])
}

// TestWebhookDeadLettersTellNoPortState: a tenant's dead letters say why a
// webhook failed in a fixed word, never the network's error text, so a
// closed port and an open one that hangs up look the same.
func TestWebhookDeadLettersTellNoPortState(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.allowLoopbackWebhooks()

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + closed.Addr().String() + "/h"
	require.NoError(t, closed.Close())
	open, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close() // an open port that speaks no HTTP
		}
	}()

	boss := couponAdmin("clinic-a")
	for id, url := range map[string]string{"closed": closedURL, "open": "http://" + open.Addr().String() + "/h"} {
		r := s.putHook(boss, id, fmt.Sprintf(`{"event":"referral.bound","webhook":{"url":%q,"secret":"crm-secret-0123456789"}}`, url))
		require.Equal(t, 200, r.Status, r.Body)
	}
	s.referralBound(patient("clinic-a", "alice"), "bob")
	drainHooks(t, s)

	dls := s.deadLetters(boss)
	require.Len(t, dls, 2)
	for _, x := range dls {
		dl := x.(map[string]any)
		require.Equal(t, "unreachable", dl["error"], dl["ruleId"])
		require.NotContains(t, dl, "status")
		require.Equal(t, float64(hook.DefaultAttempts), dl["attempts"])
	}
}
