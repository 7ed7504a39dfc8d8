package api

import (
	"testing"
	"time"

	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/tenant"
)

// The referral answers' bytes are the contract (openapi.yaml), and a keyed
// retry replays a stored answer byte for byte: each view keeps its field
// names and order, null for a missing clinic, offer, code or referral,
// omitted empty profile fields, and times in RFC 3339 with milliseconds.
func TestReferralViewsKeepTheirBytes(t *testing.T) {
	at := time.Date(2026, 11, 3, 4, 5, 6, 7_000_000, time.UTC)
	code := "ABCDEFGHJK"
	requireViewBytes(t, []viewCase{
		{"code with its links", viewCode(referral.Share{Code: "X", Link: share.Link{Scene: "r=X", MiniProgramPath: "/p?s=r%3DX", ShareURL: "https://h5/s/r/X"}}),
			`{"code":"X","scene":"r=X","miniProgramPath":"/p?s=r%3DX","shareUrl":"https://h5/s/r/X"}`},
		{"landing of a clinic with no profile", viewLanding(referral.Landing{Code: "X", Tenant: "c1", Referrer: referral.Person{DisplayName: "张*"}}),
			`{"code":"X","tenant":"c1","clinic":null,"referrer":{"displayName":"张*"},"newcomerOffer":null}`},
		{"landing, profile in part", viewLanding(referral.Landing{Code: "X", Tenant: "c1", Clinic: &tenant.Clinic{Name: "悦颜"}, NewcomerOffer: &tenant.Offer{Title: "礼"}}),
			`{"code":"X","tenant":"c1","clinic":{"name":"悦颜"},"referrer":{"displayName":""},"newcomerOffer":{"title":"礼"}}`},
		{"landing, profile in full", viewLanding(referral.Landing{Code: "X", Tenant: "c1",
			Clinic: &tenant.Clinic{Name: "悦颜", Address: "静安", Phone: "021"}, NewcomerOffer: &tenant.Offer{Title: "礼", TemplateID: "gift"}}),
			`{"code":"X","tenant":"c1","clinic":{"name":"悦颜","address":"静安","phone":"021"},"referrer":{"displayName":""},"newcomerOffer":{"title":"礼","templateId":"gift"}}`},
		{"bind", viewBind(referral.BindResult{Referrer: referral.Person{DisplayName: "张*"}, Referee: referral.Person{DisplayName: "李*"}, BoundAt: at}),
			`{"referrer":{"displayName":"张*"},"referee":{"displayName":"李*"},"boundAt":"2026-11-03T04:05:06.007Z"}`},
		{"no code, no friends", viewMine(referral.Mine{Referrals: []referral.Friend{}}),
			`{"code":null,"referrals":[],"counts":{"bound":0,"qualified":0,"rewarded":0}}`},
		{"a code and a friend", viewMine(referral.Mine{Code: &code,
			Referrals: []referral.Friend{{DisplayName: "李*", Stage: referral.Rewarded, BoundAt: at}}, Counts: referral.Counts{Bound: 1, Qualified: 1, Rewarded: 1}}),
			`{"code":"ABCDEFGHJK","referrals":[{"displayName":"李*","stage":"REWARDED","boundAt":"2026-11-03T04:05:06.007Z"}],"counts":{"bound":1,"qualified":1,"rewarded":1}}`},
		{"visit of no live referral", viewVisit(referral.VisitResult{VisitID: "v1"}),
			`{"visitId":"v1","referral":null}`},
		{"visit that qualified", viewVisit(referral.VisitResult{VisitID: "v1", Referral: &referral.ReferralState{Stage: referral.Qualified}}),
			`{"visitId":"v1","referral":{"stage":"QUALIFIED"}}`},
		{"refund", viewRefund(referral.RefundResult{VisitID: "v1", Reversed: 2}),
			`{"visitId":"v1","reversed":2}`},
	})
}
