package api

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPutSubscribeMessageRule(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	put := func(body string) reply {
		return s.do(call{fn: "admin", route: "PUT /v1/admin/hooks/{ruleId}", params: map[string]string{"ruleId": "notify"},
			as: admin("clinic-a"), body: body})
	}
	r := put(`{"event":"group.succeeded","to":"members","subscribeMessage":{"templateId":"tpl-Group_1","page":"pages/group/index",
		"data":{"thing1":"{deal.title}","phrase2":"{group.status}","time3":"{event.time}"}}}`)
	require.Equal(t, 200, r.Status, r.Body)
	body := r.JSON(t)
	require.Equal(t, "members", body["to"])
	require.Equal(t, map[string]any{"templateId": "tpl-Group_1", "page": "pages/group/index",
		"data": map[string]any{"thing1": "{deal.title}", "phrase2": "{group.status}", "time3": "{event.time}"}}, body["subscribeMessage"])

	list := s.do(call{fn: "admin", route: "GET /v1/admin/hooks", as: admin("clinic-a")})
	require.Equal(t, 200, list.Status)
	rules := list.JSON(t)["rules"].([]any)
	require.Len(t, rules, 1)
	require.Equal(t, body["subscribeMessage"], rules[0].(map[string]any)["subscribeMessage"])

	tests := []struct {
		name, body, field string
	}{
		{"no to", `{"event":"group.succeeded","subscribeMessage":{"templateId":"t","data":{"thing1":"x"}}}`, "to"},
		{"to with a coupon", `{"event":"group.succeeded","to":"members","issueCoupon":{"templateId":"t","to":"members"}}`, "to"},
		{"two actions", `{"event":"group.succeeded","to":"members","webhook":{"url":"https://x.cn","secret":"0123456789abcdef"},"subscribeMessage":{"templateId":"t","data":{"thing1":"x"}}}`, "issueCoupon"},
		{"leading slash", `{"event":"group.succeeded","to":"members","subscribeMessage":{"templateId":"t","page":"/pages/a","data":{"thing1":"x"}}}`, "subscribeMessage.page"},
		{"unknown placeholder", `{"event":"group.succeeded","to":"members","subscribeMessage":{"templateId":"t","data":{"thing1":"{user.phone}"}}}`, "subscribeMessage.data.thing1"},
		{"unknown field", `{"event":"group.succeeded","to":"members","subscribeMessage":{"templateId":"t","data":{"thing1":"x"},"lang":"en"}}`, "lang"},
		{"data not text", `{"event":"group.succeeded","to":"members","subscribeMessage":{"templateId":"t","data":{"thing1":1}}}`, "subscribeMessage.data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := put(tt.body)
			require.Equal(t, 400, r.Status, r.Body)
			require.Equal(t, "BAD_REQUEST", r.Code(t))
			require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], tt.field)
		})
	}
}
