package local

import (
	"context"

	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/tenant"
)

// Demo is what SeedDemo loads: a clinic with a patient who already shares
// a referral code, so a newcomer can try the flow at once.
type Demo struct {
	Tenant       string `json:"tenant"`
	Referrer     string `json:"referrer"`
	ReferralCode string `json:"referralCode"`
	ShareURL     string `json:"shareUrl"`
}

// The demo clinic. Its referrer's code is random like every code; SeedDemo
// is safe to run again (the same user keeps the same code).
const (
	DemoTenant       = "demo-clinic"
	DemoReferrer     = "demo-referrer"
	demoReferrerName = "王芳"
)

// SeedDemo loads the demo clinic's settings and referrer.
func SeedDemo(ctx context.Context, d *api.Deps) (*Demo, error) {
	err := dynamo.SettingsStore{Store: d.Store}.SaveSettings(ctx, DemoTenant, tenant.Settings{
		NewcomerOffer: &tenant.Offer{Title: "新客到院礼：免费皮肤检测一次"},
	})
	if err != nil {
		return nil, err
	}
	code, err := api.ReferralService(d).MyCode(ctx, auth.Caller{
		UserID: DemoReferrer, Tenant: DemoTenant, Role: auth.Patient, Name: demoReferrerName,
	})
	if err != nil {
		return nil, err
	}
	return &Demo{Tenant: DemoTenant, Referrer: DemoReferrer, ReferralCode: code.Code, ShareURL: code.ShareURL}, nil
}
