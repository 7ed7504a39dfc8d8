package api

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/httpapi"
)

// GroupBuy is the group-buy function: deals, rooms, joins.
func GroupBuy(d *app.Deps) *httpapi.API {
	svc := d.Groups()
	return httpapi.New(d.Log,
		httpapi.Route{Key: "GET /v1/deals", Access: auth.Public, Handle: listDeals(svc)},
		httpapi.Route{Key: "GET /v1/deals/{dealId}", Access: auth.Public, Handle: getDeal(svc)},
		httpapi.Route{Key: "POST /v1/groups", Access: auth.AnyUser, Handle: openGroup(svc)},
		httpapi.Route{Key: "GET /v1/groups/{groupId}", Access: auth.Public, Handle: groupStatus(svc)},
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
		return httpapi.OK(dealList{Deals: viewAll(deals, func(d groupbuy.Deal) dealView { return viewDeal(d, now) })}), nil
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
		respond := func(o groupbuy.Opened) httpapi.Response { return httpapi.Created(viewOpened(o)) }
		o, err := svc.Open(httpapi.Answering(ctx, respond), r.Caller, in.DealID)
		return respond(o), err
	}
}

// openedView is the answer to POST /v1/groups: the room and its share link.
type openedView struct {
	GroupID   string          `json:"groupId"`
	DealID    string          `json:"dealId"`
	Status    groupbuy.Status `json:"status"`
	Size      int             `json:"size"`
	Joined    int             `json:"joined"`
	ExpiresAt time.Time       `json:"expiresAt"`
	linkView
}

func viewOpened(o groupbuy.Opened) openedView {
	return openedView{
		GroupID: o.GroupID, DealID: o.DealID, Status: o.Status, Size: o.Size, Joined: o.Joined,
		ExpiresAt: o.ExpiresAt, linkView: viewLink(o.Link),
	}
}

// roomView is a room as its share link shows it, with the clinic where it
// is redeemed. Members are shown by their masked names only: no user id,
// price, phone or visit detail.
type roomView struct {
	GroupID     string          `json:"groupId"`
	Tenant      string          `json:"tenant"`
	DealID      string          `json:"dealId"`
	DealTitle   string          `json:"dealTitle"`
	Status      groupbuy.Status `json:"status"`
	Size        int             `json:"size"`
	Joined      int             `json:"joined"`
	ExpiresAt   time.Time       `json:"expiresAt"`
	SecondsLeft int             `json:"secondsLeft"`
	Members     []memberView    `json:"members"`
	Clinic      *clinicView     `json:"clinic"`
}

type memberView struct {
	DisplayName string `json:"displayName"`
	Leader      bool   `json:"leader"`
}

// viewRoom is the page as shown at now: an expired room still open shows
// CLOSING until the closer settles it.
func viewRoom(p groupbuy.RoomPage, now time.Time) roomView {
	r := &p.Room
	v := roomView{
		GroupID: r.GroupID, Tenant: r.Tenant, DealID: r.DealID, DealTitle: r.DealTitle,
		Status: r.StatusAt(now), Size: r.Size, Joined: r.Joined,
		ExpiresAt: r.ExpiresAt, SecondsLeft: r.SecondsLeft(now),
		Members: viewAll(r.Members, viewMember),
		Clinic:  viewClinic(p.Clinic),
	}
	return v
}

func viewMember(m groupbuy.Member) memberView {
	return memberView{DisplayName: m.Name, Leader: m.Leader}
}

// groupStatus is GET /v1/groups/{groupId}; ?tenant= names the clinic whose
// page asks (see groupbuy.Service.Status).
func groupStatus(svc *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		asking, err := askingTenant(apierr.Op("api.groupStatus"), r)
		if err != nil {
			return httpapi.Response{}, err
		}
		p, err := svc.Status(ctx, r.PathParam("groupId"), asking)
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.OK(viewRoom(p, svc.Now())), nil
	}
}

// joinedView is the answer to POST /v1/groups/{groupId}/join.
type joinedView struct {
	GroupID string          `json:"groupId"`
	Status  groupbuy.Status `json:"status"`
	Joined  int             `json:"joined"`
	Size    int             `json:"size"`
}

func viewJoined(j groupbuy.Joined) joinedView {
	return joinedView{GroupID: j.GroupID, Status: j.Status, Joined: j.Joined, Size: j.Size}
}

func joinGroup(svc *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		respond := func(j groupbuy.Joined) httpapi.Response { return httpapi.OK(viewJoined(j)) }
		j, err := svc.Join(httpapi.Answering(ctx, respond), r.Caller, r.PathParam("groupId"))
		return respond(j), err
	}
}
