package api

import (
	"testing"
	"time"

	"github.com/laoyou/laoyou/shared/account"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/mydata"
	"github.com/laoyou/laoyou/shared/tenant"
)

// The settings, account and data-rights answers' bytes are the contract
// (openapi.yaml), and a keyed retry replays a stored answer byte for byte:
// each view keeps its field names and order, null for no offer, an omitted
// clinic and empty profile fields, [] for empty lists, and times in RFC
// 3339 with milliseconds.
func TestSettingsAccountAndDataViewsKeepTheirBytes(t *testing.T) {
	at := time.Date(2026, 11, 3, 4, 5, 6, 7_000_000, time.UTC)
	hold, fen := 0, int64(128000)
	gift := mydata.Coupon{CouponCode: "C1", TemplateID: "gift", Title: "礼", Kind: "GIFT", Status: "REDEEMED",
		Source: "referral", IssuedAt: at, ValidTo: at, RedeemedAt: &at, VisitID: "v1"}
	requireViewBytes(t, []viewCase{
		{"settings, defaults spelled out", viewSettings(tenant.Settings{}.WithDefaults()),
			`{"newcomerOffer":null,"bindingWindowDays":30,"holdDays":7,"monthlyCap":0,"milestones":[]}`},
		{"settings in part", viewSettings(tenant.Settings{Clinic: &tenant.Clinic{Name: "悦颜"}, NewcomerOffer: &tenant.Offer{Title: "礼"},
			BindingWindowDays: 14, HoldDays: &hold, Milestones: []tenant.Milestone{}}),
			`{"clinic":{"name":"悦颜"},"newcomerOffer":{"title":"礼"},"bindingWindowDays":14,"holdDays":0,"monthlyCap":0,"milestones":[]}`},
		{"settings in full", viewSettings(tenant.Settings{Clinic: &tenant.Clinic{Name: "悦颜", Address: "静安", Phone: "021"},
			NewcomerOffer: &tenant.Offer{Title: "礼", TemplateID: "gift"}, BindingWindowDays: 30, HoldDays: &hold, MonthlyCap: 5,
			Milestones: []tenant.Milestone{{Count: 3, TemplateID: "bonus-3"}}}),
			`{"clinic":{"name":"悦颜","address":"静安","phone":"021"},"newcomerOffer":{"title":"礼","templateId":"gift"},"bindingWindowDays":30,"holdDays":0,"monthlyCap":5,"milestones":[{"count":3,"templateId":"bonus-3"}]}`},
		{"mini-program", viewApp(account.AppSummary{AppID: "wx0123456789abcdef", EnvVersion: "release", SecretSet: true}),
			`{"appId":"wx0123456789abcdef","envVersion":"release","secretSet":true}`},
		{"sign-in", viewSignedIn(account.SignedIn{Token: "t", ExpiresAt: at, UserID: "wx-1", NewUser: true}),
			`{"token":"t","expiresAt":"2026-11-03T04:05:06.007Z","userId":"wx-1","newUser":true}`},
		{"grant", viewGranted(account.Granted{UserID: "wx-1", Role: auth.Staff}),
			`{"userId":"wx-1","role":"staff"}`},
		{"phone", viewPhone(account.PhoneBound{Phone: "138****5678"}),
			`{"phone":"138****5678"}`},
		{"erasure", viewErased(mydata.Erased{ErasedAt: at}),
			`{"erasedAt":"2026-11-03T04:05:06.007Z"}`},
		{"export of an erased user", viewErased(mydata.Erased{UserID: "wx-1", ErasedAt: at}),
			`{"userId":"wx-1","erasedAt":"2026-11-03T04:05:06.007Z"}`},
		{"export of nothing", viewExport(mydata.Export{UserID: "wx-1", Tenant: "c1", Profile: mydata.Profile{Role: "patient"}}),
			`{"userId":"wx-1","tenant":"c1","profile":{"role":"patient","weChatLinked":false},"referralCode":null,"referredBy":null,` +
				`"referrals":[],"coupons":[],"rooms":[],"visits":[],"rewards":[]}`},
		{"export of everything", viewExport(mydata.Export{UserID: "wx-1", Tenant: "c1",
			Profile:      mydata.Profile{DisplayName: "欧***", Phone: "138****5678", PhoneBoundAt: &at, Role: "staff", WeChatLinked: true, FirstSignIn: &at},
			ReferralCode: &mydata.Code{Code: "ABCDEFGHJK", CreatedAt: at},
			ReferredBy:   &mydata.Referral{DisplayName: "张*", Stage: "QUALIFIED", BoundAt: at},
			Referrals:    []mydata.Referral{{DisplayName: "李*", Stage: "BOUND", BoundAt: at}},
			Coupons:      []mydata.Coupon{gift, {CouponCode: "C2", Status: "ISSUED", Source: "claim", IssuedAt: at, ValidTo: at}},
			Rooms:        []mydata.Room{{GroupID: "G1", DealID: "duo", Leader: true, PriceFen: fen, JoinedAt: at}},
			Visits: []mydata.Visit{{VisitID: "v1", Kind: "TREATMENT", AmountFen: &fen, At: at, ReferralStage: "QUALIFIED", Refunded: true},
				{VisitID: "v2", Kind: "CONSULT", At: at}},
			Rewards: []mydata.Coupon{gift},
		}),
			`{"userId":"wx-1","tenant":"c1",` +
				`"profile":{"displayName":"欧***","phone":"138****5678","phoneBoundAt":"2026-11-03T04:05:06.007Z","role":"staff","weChatLinked":true,"firstSignInAt":"2026-11-03T04:05:06.007Z"},` +
				`"referralCode":{"code":"ABCDEFGHJK","createdAt":"2026-11-03T04:05:06.007Z"},` +
				`"referredBy":{"displayName":"张*","stage":"QUALIFIED","boundAt":"2026-11-03T04:05:06.007Z"},` +
				`"referrals":[{"displayName":"李*","stage":"BOUND","boundAt":"2026-11-03T04:05:06.007Z"}],` +
				`"coupons":[{"couponCode":"C1","templateId":"gift","title":"礼","kind":"GIFT","status":"REDEEMED","source":"referral","issuedAt":"2026-11-03T04:05:06.007Z","validTo":"2026-11-03T04:05:06.007Z","redeemedAt":"2026-11-03T04:05:06.007Z","visitId":"v1"},` +
				`{"couponCode":"C2","templateId":"","title":"","kind":"","status":"ISSUED","source":"claim","issuedAt":"2026-11-03T04:05:06.007Z","validTo":"2026-11-03T04:05:06.007Z"}],` +
				`"rooms":[{"groupId":"G1","dealId":"duo","leader":true,"priceFen":128000,"joinedAt":"2026-11-03T04:05:06.007Z"}],` +
				`"visits":[{"visitId":"v1","kind":"TREATMENT","amountFen":128000,"at":"2026-11-03T04:05:06.007Z","referralStage":"QUALIFIED","refunded":true},` +
				`{"visitId":"v2","kind":"CONSULT","at":"2026-11-03T04:05:06.007Z","refunded":false}],` +
				`"rewards":[{"couponCode":"C1","templateId":"gift","title":"礼","kind":"GIFT","status":"REDEEMED","source":"referral","issuedAt":"2026-11-03T04:05:06.007Z","validTo":"2026-11-03T04:05:06.007Z","redeemedAt":"2026-11-03T04:05:06.007Z","visitId":"v1"}]}`},
	})
}
