package api

import "github.com/laoyou/laoyou/shared/httpapi"

// Coupons is the coupons function.
func Coupons(d *Deps) *httpapi.API { return httpapi.New(d.Log, d.Guard) }

func adminCouponRoutes(d *Deps) []httpapi.Route { return nil }
