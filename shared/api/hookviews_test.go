package api

import (
	"testing"
	"time"

	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
)

// The hook rules, dead letters and stats answer the bytes clients and
// stored idempotent answers already hold: field names and order, what is
// left out when empty, null and [] as they were, times in RFC 3339.
func TestHookViewsKeepTheirBytes(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
	tests := []viewCase{
		{"an issueCoupon rule",
			viewRule(hook.Rule{Tenant: "c", ID: "thank", Event: event.ReferralBound, IssueCoupon: &hook.IssueCoupon{TemplateID: "thanks", To: hook.Referrer}, UpdatedAt: at}),
			`{"ruleId":"thank","event":"referral.bound","issueCoupon":{"templateId":"thanks","to":"referrer"},"updatedAt":"2026-03-04T05:06:07.89Z"}`},
		{"a webhook rule, its secret masked",
			viewRule(hook.Rule{Tenant: "c", ID: "crm", Event: event.GroupSucceeded, Webhook: &hook.Webhook{URL: "https://crm.example.cn/h", Secret: "0123456789abcdef-secret"}, UpdatedAt: at}),
			`{"ruleId":"crm","event":"group.succeeded","webhook":{"url":"https://crm.example.cn/h","secret":"****cret"},"updatedAt":"2026-03-04T05:06:07.89Z"}`},
		{"a subscribe-message rule",
			viewRule(hook.Rule{Tenant: "c", ID: "tell", Event: event.GroupSucceeded, To: hook.Members, UpdatedAt: at,
				SubscribeMessage: &hook.SubscribeMessage{TemplateID: "tpl", Page: "pages/g?x=1", Data: map[string]string{"thing1": "{deal.title}", "amount2": "9"}}}),
			`{"ruleId":"tell","event":"group.succeeded","subscribeMessage":{"templateId":"tpl","page":"pages/g?x=1","data":{"amount2":"9","thing1":"{deal.title}"}},"to":"members","updatedAt":"2026-03-04T05:06:07.89Z"}`},
		{"a subscribe-message rule without page or data",
			viewRule(hook.Rule{Tenant: "c", ID: "tell2", Event: event.GroupSucceeded, SubscribeMessage: &hook.SubscribeMessage{TemplateID: "tpl"}, To: hook.Leader}),
			`{"ruleId":"tell2","event":"group.succeeded","subscribeMessage":{"templateId":"tpl","data":null},"to":"leader","updatedAt":"0001-01-01T00:00:00Z"}`},
		{"a webhook's dead letter, its payload as sent",
			viewDeadLetter(hook.DeadLetter{Tenant: "c", EventID: "e1", EventType: event.GroupSucceeded, RuleID: "crm", Action: "webhook", URL: "https://crm.example.cn/h",
				Attempts: 4, Status: 502, Error: "http_502", Payload: []byte(`{"id":"e1","type":"group.succeeded"}`), At: at}),
			`{"eventId":"e1","eventType":"group.succeeded","ruleId":"crm","action":"webhook","url":"https://crm.example.cn/h","attempts":4,"status":502,"error":"http_502","payload":{"id":"e1","type":"group.succeeded"},"at":"2026-03-04T05:06:07.89Z"}`},
		{"a coupon's dead letter",
			viewDeadLetter(hook.DeadLetter{Tenant: "c", EventID: "e2", EventType: event.ReferralQualified, RuleID: "r", Action: "issueCoupon", TemplateID: "t", Recipient: "u1",
				Attempts: 1, Error: "OUT_OF_STOCK: gone", Payload: []byte(`{}`), At: at}),
			`{"eventId":"e2","eventType":"referral.qualified","ruleId":"r","action":"issueCoupon","templateId":"t","recipient":"u1","attempts":1,"error":"OUT_OF_STOCK: gone","payload":{},"at":"2026-03-04T05:06:07.89Z"}`},
		{"stats",
			viewStats(hook.Summary{
				Referral:     hook.ReferralFunnel{Clicks: 9, Binds: 1, Qualified: 2, Rewarded: 3, Reversed: 4},
				Deals:        []hook.DealFunnel{{DealID: "a", Opened: 1, Succeeded: 5, Failed: 6, VouchersRedeemed: 1}, {DealID: "b.2", Joins: 4}},
				TopReferrers: []hook.TopReferrer{{DisplayName: "***", Qualified: 3}, {DisplayName: "王*", Qualified: 1}},
			}),
			`{"referral":{"clicks":9,"binds":1,"qualified":2,"rewarded":3,"reversed":4},"deals":[{"dealId":"a","opened":1,"joins":0,"succeeded":5,"failed":6,"vouchersRedeemed":1},{"dealId":"b.2","opened":0,"joins":4,"succeeded":0,"failed":0,"vouchersRedeemed":0}],"topReferrers":[{"displayName":"***","qualified":3},{"displayName":"王*","qualified":1}]}`},
		{"stats with nothing counted",
			viewStats(hook.Summary{}),
			`{"referral":{"clicks":0,"binds":0,"qualified":0,"rewarded":0,"reversed":0},"deals":[],"topReferrers":[]}`},
	}
	requireViewBytes(t, tests)
}
