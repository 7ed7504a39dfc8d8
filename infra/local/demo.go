package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/tenant"
)

// Demo is what SeedDemo loads: a clinic with a patient who already shares
// a referral code, coupons to claim, a newcomer gift on binding and a
// two-person 闺蜜卡 deal, so every flow of the README can be tried at once.
type Demo struct {
	Tenant       string `json:"tenant"`
	Referrer     string `json:"referrer"`
	ReferralCode string `json:"referralCode"`
	ShareURL     string `json:"shareUrl"`
	Deal         string `json:"deal"`
	Template     string `json:"couponTemplate"`
	// AppID is the clinic's mini-program, registered with the WeChat
	// stand-in; empty when the stack talks to another WeChat.
	AppID string `json:"appId,omitempty"`
}

// The demo clinic. Its referrer's code is random like every code; SeedDemo
// is safe to run again (the same user keeps the same code, PUTs replace).
const (
	DemoTenant       = "demo-clinic"
	DemoReferrer     = "demo-referrer"
	DemoDeal         = "thermage-duo"
	DemoTemplate     = "welcome-100"
	demoReferrerName = "王芳"
	// The demo clinic's mini-program, as the WeChat stand-in knows it.
	DemoAppID     = "wxde30c11a1c000001"
	demoAppSecret = "demo-app-secret-not-secret"
)

// DemoClinic is the demo clinic's public profile, as its landing pages
// show it.
var DemoClinic = tenant.Clinic{Name: "悦颜医疗美容门诊部", Address: "上海市静安区南京西路1266号恒隆广场5楼", Phone: "021-6288 0000"}

// demoConfig is the clinic's configuration, written through the admin
// API as an operator would, so it passes the same validation.
var demoConfig = []struct{ route, id, body string }{
	{"PUT /v1/admin/coupon-templates/{templateId}", DemoTemplate,
		`{"title":"新客立减100元","kind":"CASH","valueFen":10000,"minSpendFen":50000,"validDays":30,"stock":500,"perUserLimit":1,"claimable":true}`},
	{"PUT /v1/admin/coupon-templates/{templateId}", "newcomer-gift",
		`{"title":"上门礼：免费皮肤检测","kind":"GIFT","validDays":30,"stock":0,"perUserLimit":1,"claimable":false}`},
	{"PUT /v1/admin/coupon-templates/{templateId}", "thermage-voucher",
		`{"title":"热玛吉全脸体验券","kind":"VOUCHER","valueFen":399900,"validDays":60,"stock":0,"perUserLimit":1,"claimable":false}`},
	{"PUT /v1/admin/hooks/{ruleId}", "gift-on-bind",
		`{"event":"referral.bound","issueCoupon":{"templateId":"newcomer-gift","to":"referee"}}`},
	{"PUT /v1/admin/deals/{dealId}", DemoDeal,
		`{"title":"闺蜜卡·热玛吉双人体验","sku":"THERMAGE-FACE","priceFen":599900,"groupPriceFen":399900,"leaderPriceFen":359900,` +
			`"groupSize":2,"ttlSeconds":86400,"stock":200,"perUserLimit":1,"newcomersOnly":false,"voucherTemplateId":"thermage-voucher"}`},
}

// SeedDemoWeChat registers the demo clinic's mini-program with the WeChat
// stand-in and saves it as the clinic's admin would.
func SeedDemoWeChat(ctx context.Context, d *app.Deps, stub interface{ AddApp(appID, secret string) }) error {
	stub.AddApp(DemoAppID, demoAppSecret)
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: "PUT /v1/admin/wechat",
		Body:     `{"appId":"` + DemoAppID + `","appSecret":"` + demoAppSecret + `","envVersion":"develop"}`,
	}
	ev.RequestContext.RequestID = "demo-wechat"
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
			Claims: map[string]string{"sub": "demo-admin", "tenant": DemoTenant, "role": string(auth.Admin)},
		},
	}
	resp, err := api.Admin(d).Handle(ctx, ev)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("PUT /v1/admin/wechat: %d %s", resp.StatusCode, resp.Body)
	}
	return nil
}

// SeedDemo loads the demo clinic.
func SeedDemo(ctx context.Context, d *app.Deps) (*Demo, error) {
	err := dynamo.SettingsStore{Store: d.Store}.SaveSettings(ctx, DemoTenant, tenant.Settings{
		Clinic:        &DemoClinic,
		NewcomerOffer: &tenant.Offer{Title: "新客到院礼：免费皮肤检测一次", TemplateID: "newcomer-gift"},
	})
	if err != nil {
		return nil, err
	}
	admin := api.Admin(d)
	for _, c := range demoConfig {
		param := c.route[strings.Index(c.route, "{")+1 : strings.Index(c.route, "}")]
		ev := events.APIGatewayV2HTTPRequest{
			RouteKey:       c.route,
			PathParameters: map[string]string{param: c.id},
			Body:           c.body,
		}
		ev.RequestContext.RequestID = "demo-" + c.id
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "demo-admin", "tenant": DemoTenant, "role": string(auth.Admin)},
			},
		}
		resp, err := admin.Handle(ctx, ev)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("%s %s: %d %s", c.route, c.id, resp.StatusCode, resp.Body)
		}
	}
	code, err := d.Referrals().MyCode(ctx, auth.Caller{
		UserID: DemoReferrer, Tenant: DemoTenant, Role: auth.Patient, Name: demoReferrerName,
	})
	if err != nil {
		return nil, err
	}
	return &Demo{
		Tenant: DemoTenant, Referrer: DemoReferrer, ReferralCode: code.Code, ShareURL: code.ShareURL,
		Deal: DemoDeal, Template: DemoTemplate,
	}, nil
}
