package api

import "github.com/laoyou/laoyou/shared/httpapi"

// GroupBuy is the group-buy function.
func GroupBuy(d *Deps) *httpapi.API { return httpapi.New(d.Log, d.Guard) }

func adminDealRoutes(d *Deps) []httpapi.Route { return nil }
