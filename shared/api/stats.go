package api

import (
	"context"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/httpapi"
)

// adminStatsRoutes serve the clinic's stats, counted from the stream.
func adminStatsRoutes(d *app.Deps) []httpapi.Route {
	return []httpapi.Route{
		{Key: "GET /v1/admin/stats", Access: auth.AdminOnly, Handle: getStats(d.Stats())},
	}
}

func getStats(stats *hook.Stats) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		s, err := stats.Summary(ctx, r.Caller.Tenant)
		return httpapi.OK(viewStats(s)), err
	}
}

// statsView is GET /v1/admin/stats. Its lists are [] when empty, never null.
type statsView struct {
	Referral     referralFunnelView `json:"referral"`
	Deals        []dealFunnelView   `json:"deals"`
	TopReferrers []topReferrerView  `json:"topReferrers"`
}

type referralFunnelView struct {
	Clicks    int64 `json:"clicks"`
	Binds     int64 `json:"binds"`
	Qualified int64 `json:"qualified"`
	Rewarded  int64 `json:"rewarded"`
	Reversed  int64 `json:"reversed"`
}

type dealFunnelView struct {
	DealID           string `json:"dealId"`
	Opened           int64  `json:"opened"`
	Joins            int64  `json:"joins"`
	Succeeded        int64  `json:"succeeded"`
	Failed           int64  `json:"failed"`
	VouchersRedeemed int64  `json:"vouchersRedeemed"`
}

type topReferrerView struct {
	DisplayName string `json:"displayName"`
	Qualified   int64  `json:"qualified"`
}

func viewStats(s hook.Summary) statsView {
	f := s.Referral
	v := statsView{
		Referral: referralFunnelView{
			Clicks: f.Clicks, Binds: f.Binds, Qualified: f.Qualified, Rewarded: f.Rewarded, Reversed: f.Reversed,
		},
		Deals:        viewAll(s.Deals, viewDealFunnel),
		TopReferrers: viewAll(s.TopReferrers, viewTopReferrer),
	}
	return v
}

func viewDealFunnel(d hook.DealFunnel) dealFunnelView {
	return dealFunnelView{
		DealID: d.DealID, Opened: d.Opened, Joins: d.Joins,
		Succeeded: d.Succeeded, Failed: d.Failed, VouchersRedeemed: d.VouchersRedeemed,
	}
}

func viewTopReferrer(t hook.TopReferrer) topReferrerView {
	return topReferrerView{DisplayName: t.DisplayName, Qualified: t.Qualified}
}
