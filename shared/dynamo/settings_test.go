package dynamo

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/tenant"
)

// Settings are stored under the attribute names they always had, so items
// saved before read back the same, and an unset setting is no attribute.
func TestSettingsItemKeepsItsAttributeNames(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	m := func(kv map[string]types.AttributeValue) types.AttributeValue {
		return &types.AttributeValueMemberM{Value: kv}
	}
	hold := 0
	keys := map[string]types.AttributeValue{"pk": s("T#clinic-a"), "sk": s(skSettings), "kind": s(kindSettings)}
	with := func(attrs map[string]types.AttributeValue) map[string]types.AttributeValue {
		out := map[string]types.AttributeValue{}
		for _, kv := range []map[string]types.AttributeValue{keys, attrs} {
			for k, v := range kv {
				out[k] = v
			}
		}
		return out
	}
	tests := []struct {
		name     string
		settings tenant.Settings
		stored   map[string]types.AttributeValue
	}{
		{"nothing set", tenant.Settings{}, with(nil)},
		{"everything set", tenant.Settings{
			Clinic:            &tenant.Clinic{Name: "悦颜", Address: "南京西路1266号", Phone: "021-6288 0000"},
			NewcomerOffer:     &tenant.Offer{Title: "新客礼", TemplateID: "gift"},
			BindingWindowDays: 14, HoldDays: &hold, MonthlyCap: 5,
			Milestones: []tenant.Milestone{{Count: 3, TemplateID: "bonus-3"}},
		}, with(map[string]types.AttributeValue{
			"clinic":            m(map[string]types.AttributeValue{"name": s("悦颜"), "address": s("南京西路1266号"), "phone": s("021-6288 0000")}),
			"newcomerOffer":     m(map[string]types.AttributeValue{"title": s("新客礼"), "templateId": s("gift")}),
			"bindingWindowDays": n("14"),
			"holdDays":          n("0"),
			"monthlyCap":        n("5"),
			"milestones": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				m(map[string]types.AttributeValue{"count": n("3"), "templateId": s("bonus-3")}),
			}},
		})},
		{"optional texts left out", tenant.Settings{
			Clinic:        &tenant.Clinic{Name: "悦颜"},
			NewcomerOffer: &tenant.Offer{Title: "新客礼"},
		}, with(map[string]types.AttributeValue{
			"clinic":        m(map[string]types.AttributeValue{"name": s("悦颜")}),
			"newcomerOffer": m(map[string]types.AttributeValue{"title": s("新客礼")}),
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := attributevalue.MarshalMap(newSettingsItem("clinic-a", tt.settings))
			require.NoError(t, err)
			require.Equal(t, tt.stored, got)

			var it settingsItem
			require.NoError(t, attributevalue.UnmarshalMap(tt.stored, &it))
			require.Equal(t, tt.settings, *it.settings())
		})
	}
}
