package api

import "github.com/laoyou/laoyou/shared/httpapi"

// Admin is the admin function: the routes clinic operations use.
func Admin(d *Deps) *httpapi.API {
	var routes []httpapi.Route
	routes = append(routes, adminCouponRoutes(d)...)
	routes = append(routes, adminHookRoutes(d)...)
	routes = append(routes, adminDealRoutes(d)...)
	routes = append(routes, adminStatsRoutes(d)...)
	return httpapi.New(d.Log, d.Guard, routes...)
}

// adminStatsRoutes serves the program's funnel (issue 5 builds it).
func adminStatsRoutes(d *Deps) []httpapi.Route { return nil }
