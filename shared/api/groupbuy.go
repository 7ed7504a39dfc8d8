package api

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/tenant"
)

// GroupBuy is the group-buy function: deals, rooms, joins.
func GroupBuy(d *app.Deps) *httpapi.API {
	svc := d.Groups()
	return httpapi.New(d.Log,
		httpapi.Route{Key: "GET /v1/deals", Access: auth.Public, Handle: listDeals(svc)},
		httpapi.Route{Key: "GET /v1/deals/{dealId}", Access: auth.Public, Handle: getDeal(svc)},
		httpapi.Route{Key: "POST /v1/groups", Access: auth.AnyUser, Handle: openGroup(svc)},
		httpapi.Route{Key: "GET /v1/groups/{groupId}", Access: auth.Public, Handle: groupStatus(svc, dynamo.GroupStore{Store: d.Store}, d.Settings)},
		httpapi.Route{Key: "POST /v1/groups/{groupId}/join", Access: auth.AnyUser, Handle: joinGroup(svc)},
		httpapi.Route{Key: "GET /v1/groups/{groupId}/image", Access: auth.Public, Handle: groupImage(d.ShareImages(), svc)},
	)
}

func adminDealRoutes(d *app.Deps) []httpapi.Route {
	svc := d.Groups()
	return []httpapi.Route{
		{Key: "PUT /v1/admin/deals/{dealId}", Access: auth.AdminOnly, Handle: putDeal(svc)},
	}
}

// dealView is a deal as the API shows it, with the seats left.
type dealView struct {
	DealID            string     `json:"dealId"`
	Tenant            string     `json:"tenant"`
	Title             string     `json:"title"`
	SKU               string     `json:"sku"`
	PriceFen          int64      `json:"priceFen"`
	GroupPriceFen     int64      `json:"groupPriceFen"`
	LeaderPriceFen    *int64     `json:"leaderPriceFen,omitempty"`
	GroupSize         int        `json:"groupSize"`
	MinSize           int        `json:"minSize"`
	TTLSeconds        int        `json:"ttlSeconds"`
	Stock             int        `json:"stock"`
	Remaining         int        `json:"remaining"`
	PerUserLimit      int        `json:"perUserLimit"`
	NewcomersOnly     bool       `json:"newcomersOnly"`
	StartsAt          *time.Time `json:"startsAt,omitempty"`
	EndsAt            *time.Time `json:"endsAt,omitempty"`
	VoucherTemplateID string     `json:"voucherTemplateId,omitempty"`
	Active            bool       `json:"active"`
	UpdatedAt         time.Time  `json:"updatedAt"`
}

func viewDeal(d groupbuy.Deal, now time.Time) dealView {
	return dealView{
		DealID: d.DealID, Tenant: d.Tenant, Title: d.Title, SKU: d.SKU,
		PriceFen: d.PriceFen, GroupPriceFen: d.GroupPriceFen, LeaderPriceFen: d.LeaderPriceFen,
		GroupSize: d.GroupSize, MinSize: d.MinSize, TTLSeconds: d.TTLSeconds,
		Stock: d.Stock, Remaining: d.Remaining(), PerUserLimit: d.PerUserLimit, NewcomersOnly: d.NewcomersOnly,
		StartsAt: d.StartsAt, EndsAt: d.EndsAt, VoucherTemplateID: d.VoucherTemplateID,
		Active: d.ActiveAt(now), UpdatedAt: d.UpdatedAt,
	}
}

// dealRequest is the body of PUT /v1/admin/deals/{dealId}.
type dealRequest struct {
	Title             string     `json:"title"`
	SKU               string     `json:"sku"`
	PriceFen          *int64     `json:"priceFen"`
	GroupPriceFen     *int64     `json:"groupPriceFen"`
	LeaderPriceFen    *int64     `json:"leaderPriceFen"`
	GroupSize         *int       `json:"groupSize"`
	MinSize           *int       `json:"minSize"`
	TTLSeconds        *int       `json:"ttlSeconds"`
	Stock             *int       `json:"stock"`
	PerUserLimit      *int       `json:"perUserLimit"`
	NewcomersOnly     *bool      `json:"newcomersOnly"`
	StartsAt          *time.Time `json:"startsAt"`
	EndsAt            *time.Time `json:"endsAt"`
	VoucherTemplateID string     `json:"voucherTemplateId"`
}

// spec is the request as the group-buy rules take it.
func (in *dealRequest) spec() groupbuy.DealSpec {
	return groupbuy.DealSpec{
		Title: in.Title, SKU: in.SKU,
		PriceFen: in.PriceFen, GroupPriceFen: in.GroupPriceFen, LeaderPriceFen: in.LeaderPriceFen,
		GroupSize: in.GroupSize, MinSize: in.MinSize, TTLSeconds: in.TTLSeconds,
		Stock: in.Stock, PerUserLimit: in.PerUserLimit, NewcomersOnly: in.NewcomersOnly,
		StartsAt: in.StartsAt, EndsAt: in.EndsAt, VoucherTemplateID: in.VoucherTemplateID,
	}
}

// Valid checks the body by the group-buy rules.
func (in *dealRequest) Valid() error {
	spec := in.spec()
	return spec.Valid()
}

func putDeal(svc *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in dealRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		now := svc.Now() // one moment for the answer and its stored copy
		respond := func(d groupbuy.Deal) httpapi.Response { return httpapi.OK(viewDeal(d, now)) }
		d, err := svc.SaveDeal(httpapi.Answering(ctx, respond), r.Caller.Tenant, r.PathParam("dealId"), in.spec())
		return respond(d), err
	}
}

// tenantParam is the ?tenant= of the public deal routes.
func tenantParam(r *httpapi.Request) (string, error) {
	t := r.Query("tenant")
	switch {
	case t == "":
		return "", apierr.E(apierr.Op("api.tenantParam"), apierr.BadRequest, `query parameter "tenant" is required`)
	case !auth.ValidID(t):
		return "", apierr.E(apierr.Op("api.tenantParam"), apierr.BadRequest, `query parameter "tenant" is malformed`)
	}
	return t, nil
}

type dealList struct {
	Deals []dealView `json:"deals"`
}

func listDeals(svc *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		tenant, err := tenantParam(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		deals, err := svc.ActiveDeals(ctx, tenant)
		if err != nil {
			return httpapi.Response{}, err
		}
		now := svc.Now()
		out := dealList{Deals: make([]dealView, 0, len(deals))}
		for _, d := range deals {
			out.Deals = append(out.Deals, viewDeal(d, now))
		}
		return httpapi.OK(out), nil
	}
}

func getDeal(svc *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		tenant, err := tenantParam(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		d, err := svc.Deal(ctx, tenant, r.PathParam("dealId"))
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.OK(viewDeal(d, svc.Now())), nil
	}
}

type openRequest struct {
	DealID string `json:"dealId"`
}

func (o *openRequest) Valid() error {
	switch {
	case o.DealID == "":
		return apierr.Missing("dealId")
	case !auth.ValidID(o.DealID):
		return apierr.Invalid("dealId", "is malformed")
	}
	return nil
}

func openGroup(svc *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in openRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(o groupbuy.Opened) httpapi.Response { return httpapi.Created(o) }
		o, err := svc.Open(httpapi.Answering(ctx, respond), r.Caller, in.DealID)
		return respond(o), err
	}
}

// roomView is a room as its share link shows it, with the clinic where it
// is redeemed.
type roomView struct {
	groupbuy.RoomView
	Clinic *tenant.Clinic `json:"clinic"`
}

// groupStatus reads the room (one GetItem) and takes the clinic's profile
// from the settings cache, which reads the settings only when cold.
// groupStatus is GET /v1/groups/{groupId}. The room names its tenant, so
// cold its settings are read after it; a page that names its clinic
// (?tenant=) has them read in the same call, and another clinic's room is
// then not found.
func groupStatus(svc *groupbuy.Service, rooms dynamo.GroupStore, settings *tenant.Cache) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		const op = apierr.Op("api.groupStatus")
		asking, err := askingTenant(op, r)
		if err != nil {
			return httpapi.Response{}, err
		}
		if asking == "" {
			v, err := svc.Status(ctx, r.PathParam("groupId"))
			if err != nil {
				return httpapi.Response{}, err
			}
			st, err := settings.Get(ctx, v.Tenant)
			if err != nil {
				return httpapi.Response{}, apierr.E(op, err)
			}
			return httpapi.OK(roomView{RoomView: v, Clinic: st.Clinic}), nil
		}
		id, ok := share.Normalize(r.PathParam("groupId"), share.GroupIDLen)
		if !ok {
			return httpapi.Response{}, apierr.E(op, apierr.GroupNotFound, "no such group")
		}
		var room *groupbuy.Room
		st, err := settings.GetWith(asking,
			func() (err error) { room, err = rooms.Room(ctx, id, false); return err },
			func() (st *tenant.Settings, err error) {
				room, st, err = rooms.RoomWithSettings(ctx, id, asking)
				return st, err
			})
		if err != nil {
			return httpapi.Response{}, apierr.E(op, err)
		}
		if room == nil || room.Tenant != asking {
			return httpapi.Response{}, apierr.E(op, apierr.GroupNotFound, "no such group")
		}
		return httpapi.OK(roomView{RoomView: room.ViewAt(svc.Now()), Clinic: st.Clinic}), nil
	}
}

func joinGroup(svc *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		respond := func(j groupbuy.Joined) httpapi.Response { return httpapi.OK(j) }
		j, err := svc.Join(httpapi.Answering(ctx, respond), r.Caller, r.PathParam("groupId"))
		return respond(j), err
	}
}
