package api

import (
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/httpapi"
)

// Admin is the admin function: the routes clinic operations use.
func Admin(d *app.Deps) *httpapi.API {
	var routes []httpapi.Route
	routes = append(routes, adminCouponRoutes(d)...)
	routes = append(routes, adminHookRoutes(d)...)
	routes = append(routes, adminDealRoutes(d)...)
	routes = append(routes, adminStatsRoutes(d)...)
	routes = append(routes, adminSettingsRoutes(d)...)
	routes = append(routes, adminAccountRoutes(d)...)
	return httpapi.New(d.Log, routes...)
}
