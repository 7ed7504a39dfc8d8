package hook

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
)

func TestSubscribeRuleValidate(t *testing.T) {
	msg := func(ev event.Type, to Recipient, edit func(*SubscribeMessage)) Rule {
		sm := &SubscribeMessage{TemplateID: "bDmywsp2oEHjwAadTGKkUHpC0RgBVPvfAnWcVAaTHN8", Page: "pages/group/index",
			Data: map[string]string{"thing1": "{deal.title}", "number2": "{group.joined}/{group.size}"}}
		if edit != nil {
			edit(sm)
		}
		return Rule{ID: "r1", Event: ev, SubscribeMessage: sm, To: to}
	}
	tests := []struct {
		name  string
		rule  Rule
		field string // "" when valid
	}{
		{"members on success", msg(event.GroupSucceeded, Members, nil), ""},
		{"referrer on qualified", msg(event.ReferralQualified, Referrer, nil), ""},
		{"user on coupon", msg(event.CouponIssued, User, func(m *SubscribeMessage) {
			m.Data = map[string]string{"thing1": "{coupon.title}", "date2": "{coupon.validTo}", "time3": "{event.time}"}
		}), ""},
		{"no page", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Page = "" }), ""},
		{"plain text", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Data = map[string]string{"phrase1": "有人参团"} }), ""},
		{"with a coupon too", Rule{ID: "r", Event: event.GroupJoined, To: Leader, IssueCoupon: &IssueCoupon{TemplateID: "t", To: Leader},
			SubscribeMessage: &SubscribeMessage{TemplateID: "t", Data: map[string]string{"thing1": "x"}}}, "issueCoupon"},
		{"no template", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.TemplateID = "" }), "subscribeMessage.templateId"},
		{"bad template", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.TemplateID = "a b" }), "subscribeMessage.templateId"},
		{"page with /", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Page = "/pages/group/index" }), "subscribeMessage.page"},
		{"page with space", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Page = "pages/a b" }), "subscribeMessage.page"},
		{"no data", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Data = nil }), "subscribeMessage.data"},
		{"unknown key type", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Data = map[string]string{"colour1": "red"} }), "subscribeMessage.data.colour1"},
		{"key without number", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Data = map[string]string{"thing": "x"} }), "subscribeMessage.data.thing"},
		{"empty value", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Data = map[string]string{"thing1": ""} }), "subscribeMessage.data.thing1"},
		{"long value", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Data = map[string]string{"thing1": strings.Repeat("x", 201)} }), "subscribeMessage.data.thing1"},
		{"unknown placeholder", msg(event.GroupJoined, Leader, func(m *SubscribeMessage) { m.Data = map[string]string{"thing1": "{user.phone}"} }), "subscribeMessage.data.thing1"},
		{"no recipient", msg(event.GroupJoined, "", nil), "to"},
		{"unknown recipient", msg(event.GroupJoined, "friend", nil), "to"},
		{"referrer of a group", msg(event.GroupJoined, Referrer, nil), "to"},
		{"members of a referral", msg(event.ReferralBound, Members, nil), "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rule.Validate(false)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, apierr.BadRequest, apierr.KindOf(err), "%v", err)
			require.Contains(t, apierr.Message(err), `"`+tt.field+`"`)
		})
	}
}

func TestFill(t *testing.T) {
	at := time.Date(2026, 3, 1, 16, 30, 0, 0, time.UTC) // 00:30 on 2 March in China
	group := event.Event{Type: event.GroupJoined, OccurredAt: at, Data: map[string]any{
		"dealTitle": "闺蜜双人皮肤管理体验卡（限时特惠·两人同行）", "size": 3.0, "joined": 2, "status": "OPEN",
	}}
	coupon := event.Event{Type: event.CouponIssued, OccurredAt: at, Data: map[string]any{
		"title": "新客到院礼", "validTo": "2026-03-31T15:59:59Z",
	}}
	tests := []struct {
		name string
		e    event.Event
		key  string
		tpl  string
		want string
	}{
		{"deal title cut to a thing's 20", group, "thing1", "{deal.title}", "闺蜜双人皮肤管理体验卡（限时特惠·两人同"},
		{"numbers from the stream and from memory", group, "character_string2", "{group.joined}/{group.size}", "2/3"},
		{"status in words", group, "phrase3", "{group.status}", "拼团中"},
		{"phrase cut to 5", group, "phrase3", "{group.status}，快来", "拼团中，快"},
		{"name cut to 10", group, "name4", "团长{deal.title}", "团长闺蜜双人皮肤管理"},
		{"time in China", group, "time5", "{event.time}", "2026-03-02 00:30"},
		{"coupon title", coupon, "thing1", "您的{coupon.title}已到账", "您的新客到院礼已到账"},
		{"valid to, China date", coupon, "date2", "{coupon.validTo}", "2026-03-31"},
		{"number cut to 32", group, "number6", strings.Repeat("9", 40), strings.Repeat("9", 32)},
		{"missing value", coupon, "thing1", "{deal.title}", "-"},
		{"succeeded", event.Event{Data: map[string]any{"status": "SUCCEEDED"}}, "phrase1", "{group.status}", "拼团成功"},
		{"failed", event.Event{Data: map[string]any{"status": "FAILED"}}, "phrase1", "{group.status}", "拼团失败"},
		{"text kept", group, "thing1", "{not.a.placeholder}", "{not.a.placeholder}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fill(map[string]string{tt.key: tt.tpl}, tt.e)
			require.Equal(t, tt.want, got[tt.key])
		})
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		key  string
		in   string
		want string
	}{
		{"thing1", strings.Repeat("字", 25), strings.Repeat("字", 20)},
		{"thing12", strings.Repeat("a", 20), strings.Repeat("a", 20)},
		{"phrase2", "一二三四五六", "一二三四五"},
		{"name3", "ABCDEFGHIJKL", "ABCDEFGHIJ"},
		{"character_string4", strings.Repeat("A", 33), strings.Repeat("A", 32)},
		{"number5", "12345", "12345"},
		{"unknown1", strings.Repeat("x", 50), strings.Repeat("x", 50)},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			require.Equal(t, tt.want, Cut(tt.key, tt.in))
		})
	}
}
