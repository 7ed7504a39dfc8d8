package api

import (
	"context"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/httpapi"
)

// adminStatsRoutes serve the clinic's stats, counted from the stream.
func adminStatsRoutes(d *app.Deps) []httpapi.Route {
	stats := d.Stats()
	return []httpapi.Route{
		{Key: "GET /v1/admin/stats", Access: auth.AdminOnly, Handle: func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
			v, err := stats.View(ctx, r.Caller.Tenant)
			return httpapi.OK(v), err
		}},
	}
}
