package api

import (
	"context"
	"strings"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/httpapi"
)

// Coupons is the coupons function: templates for patients, claims, my
// coupons and redemption at the front desk.
func Coupons(d *app.Deps) *httpapi.API {
	svc := d.Coupons()
	return httpapi.New(d.Log,
		httpapi.Route{Key: "GET /v1/coupon-templates", Access: auth.Public, Handle: listCouponTemplates(svc)},
		httpapi.Route{Key: "POST /v1/coupons/claim", Access: auth.AnyUser, Handle: claimCoupon(svc)},
		httpapi.Route{Key: "GET /v1/coupons/me", Access: auth.AnyUser, Handle: myCoupons(svc)},
		httpapi.Route{Key: "POST /v1/staff/coupons/{couponCode}/redeem", Access: auth.StaffOnly, Handle: redeemCoupon(svc)},
	)
}

func adminCouponRoutes(d *app.Deps) []httpapi.Route {
	svc := d.Coupons()
	return []httpapi.Route{
		{Key: "PUT /v1/admin/coupon-templates/{templateId}", Access: auth.AdminOnly, Handle: putCouponTemplate(svc)},
	}
}

// templateRequest is the body of PUT /v1/admin/coupon-templates/{id}.
type templateRequest struct {
	Title        string  `json:"title"`
	Kind         string  `json:"kind"`
	ValueFen     *int64  `json:"valueFen"`
	PercentOff   *int    `json:"percentOff"`
	MaxOffFen    *int64  `json:"maxOffFen"`
	MinSpendFen  *int64  `json:"minSpendFen"`
	ValidFrom    *string `json:"validFrom"`
	ValidTo      *string `json:"validTo"`
	ValidDays    *int    `json:"validDays"`
	Stock        *int64  `json:"stock"`
	PerUserLimit *int    `json:"perUserLimit"`
	Claimable    *bool   `json:"claimable"`

	validFrom, validTo time.Time
}

// Valid checks presence and form; the coupon rules check the values.
func (t *templateRequest) Valid() error {
	t.Title = strings.TrimSpace(t.Title)
	switch {
	case t.Title == "":
		return apierr.Missing("title")
	case t.Kind == "":
		return apierr.Missing("kind")
	case t.Stock == nil:
		return apierr.Missing("stock")
	case t.PerUserLimit == nil:
		return apierr.Missing("perUserLimit")
	case t.Claimable == nil:
		return apierr.Missing("claimable")
	case t.ValidDays != nil && *t.ValidDays < 1:
		return apierr.Invalid("validDays", "must be at least 1")
	}
	var err error
	if t.validFrom, err = templateTime("validFrom", t.ValidFrom); err != nil {
		return err
	}
	t.validTo, err = templateTime("validTo", t.ValidTo)
	return err
}

func templateTime(field string, v *string) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return time.Time{}, apierr.Invalid(field, "must be an RFC 3339 time, e.g. 2025-01-31T16:00:00Z")
	}
	return at.UTC(), nil
}

func (t *templateRequest) template(tenant, id string) coupon.Template {
	return coupon.Template{
		Tenant: tenant, ID: id, Title: t.Title, Kind: coupon.Kind(t.Kind),
		ValueFen: zeroIfNil(t.ValueFen), PercentOff: zeroIfNil(t.PercentOff), MaxOffFen: zeroIfNil(t.MaxOffFen),
		MinSpendFen: zeroIfNil(t.MinSpendFen), ValidFrom: t.validFrom, ValidTo: t.validTo, ValidDays: zeroIfNil(t.ValidDays),
		Stock: *t.Stock, PerUserLimit: *t.PerUserLimit, Claimable: *t.Claimable,
	}
}

func zeroIfNil[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func putCouponTemplate(svc *coupon.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		id := r.PathParam("templateId")
		if !auth.ValidID(id) {
			return httpapi.Response{}, auth.InvalidID("templateId")
		}
		var in templateRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(t coupon.Template) httpapi.Response { return httpapi.OK(viewTemplate(t)) }
		t, err := svc.SaveTemplate(httpapi.Answering(ctx, respond), in.template(r.Caller.Tenant, id))
		return respond(t), err
	}
}

// templateView is a template as the API shows it, to its admin and in the
// public list alike.
type templateView struct {
	TemplateID   string      `json:"templateId"`
	Title        string      `json:"title"`
	Kind         coupon.Kind `json:"kind"`
	ValueFen     int64       `json:"valueFen,omitempty"`
	PercentOff   int         `json:"percentOff,omitempty"`
	MaxOffFen    int64       `json:"maxOffFen,omitempty"`
	MinSpendFen  int64       `json:"minSpendFen,omitempty"`
	ValidFrom    *time.Time  `json:"validFrom,omitempty"`
	ValidTo      *time.Time  `json:"validTo,omitempty"`
	ValidDays    int         `json:"validDays,omitempty"`
	Stock        int64       `json:"stock"`
	PerUserLimit int         `json:"perUserLimit"`
	Claimable    bool        `json:"claimable"`
	// Remaining is null for unlimited stock. It is rolled up from the stock
	// after each stream batch, so it trails the claims by seconds.
	Remaining *int64 `json:"remaining"`
}

func viewTemplate(t coupon.Template) templateView {
	return templateView{
		TemplateID: t.ID, Title: t.Title, Kind: t.Kind, ValueFen: t.ValueFen, PercentOff: t.PercentOff,
		MaxOffFen: t.MaxOffFen, MinSpendFen: t.MinSpendFen,
		ValidFrom: timeOrNil(t.ValidFrom), ValidTo: timeOrNil(t.ValidTo), ValidDays: t.ValidDays,
		Stock: t.Stock, PerUserLimit: t.PerUserLimit, Claimable: t.Claimable, Remaining: t.Remaining(),
	}
}

// timeOrNil is nil for the zero time, which the API leaves out.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// templateList is the answer to GET /v1/coupon-templates.
type templateList struct {
	Templates []templateView `json:"templates"`
}

func listCouponTemplates(svc *coupon.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		tenant := r.Query("tenant")
		if tenant == "" {
			return httpapi.Response{}, apierr.E(apierr.Op("api.listCouponTemplates"), apierr.BadRequest, `query parameter "tenant" is required`)
		}
		if !auth.ValidID(tenant) {
			return httpapi.Response{}, apierr.E(apierr.Op("api.listCouponTemplates"), apierr.BadRequest, `query parameter "tenant" is not a tenant id`)
		}
		ts, err := svc.ClaimableTemplates(ctx, tenant)
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.OK(templateList{Templates: viewAll(ts, viewTemplate)}), nil
	}
}

type claimRequest struct {
	TemplateID string `json:"templateId"`
}

func (c *claimRequest) Valid() error {
	switch {
	case c.TemplateID == "":
		return apierr.Missing("templateId")
	case !auth.ValidID(c.TemplateID):
		return auth.InvalidID("templateId")
	}
	return nil
}

// claimedView is the answer to a claim: the coupon it issued.
type claimedView struct {
	CouponCode string        `json:"couponCode"`
	TemplateID string        `json:"templateId"`
	Status     coupon.Status `json:"status"`
	ValidFrom  time.Time     `json:"validFrom"`
	ValidTo    time.Time     `json:"validTo"`
}

func viewClaimed(c coupon.Coupon) claimedView {
	return claimedView{CouponCode: c.Code, TemplateID: c.TemplateID, Status: c.Status, ValidFrom: c.ValidFrom, ValidTo: c.ValidTo}
}

func claimCoupon(svc *coupon.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in claimRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(c coupon.Coupon) httpapi.Response { return httpapi.Created(viewClaimed(c)) }
		c, err := svc.Claim(httpapi.Answering(ctx, respond), r.Caller, in.TemplateID)
		return respond(c), err
	}
}

// couponView is a coupon as its holder sees it, with its status at now.
type couponView struct {
	CouponCode  string        `json:"couponCode"`
	TemplateID  string        `json:"templateId"`
	Title       string        `json:"title"`
	Kind        coupon.Kind   `json:"kind"`
	Status      coupon.Status `json:"status"`
	ValueFen    int64         `json:"valueFen,omitempty"`
	PercentOff  int           `json:"percentOff,omitempty"`
	MaxOffFen   int64         `json:"maxOffFen,omitempty"`
	MinSpendFen int64         `json:"minSpendFen,omitempty"`
	PriceFen    int64         `json:"priceFen,omitempty"`
	ValidFrom   time.Time     `json:"validFrom"`
	ValidTo     time.Time     `json:"validTo"`
	Source      coupon.Source `json:"source"`
	IssuedAt    time.Time     `json:"issuedAt"`
	RedeemedAt  *time.Time    `json:"redeemedAt,omitempty"`
}

func viewCoupon(c coupon.Coupon, now time.Time) couponView {
	return couponView{
		CouponCode: c.Code, TemplateID: c.TemplateID, Title: c.Title, Kind: c.Kind, Status: c.StatusAt(now),
		ValueFen: c.ValueFen, PercentOff: c.PercentOff, MaxOffFen: c.MaxOffFen, MinSpendFen: c.MinSpendFen,
		PriceFen: c.PriceFen, ValidFrom: c.ValidFrom, ValidTo: c.ValidTo, Source: c.Source, IssuedAt: c.IssuedAt,
		RedeemedAt: timeOrNil(c.RedeemedAt),
	}
}

// couponList is the answer to GET /v1/coupons/me.
type couponList struct {
	Coupons []couponView `json:"coupons"`
}

func myCoupons(svc *coupon.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		cs, err := svc.Mine(ctx, r.Caller)
		if err != nil {
			return httpapi.Response{}, err
		}
		now := svc.Now()
		return httpapi.OK(couponList{Coupons: viewAll(cs, func(c coupon.Coupon) couponView { return viewCoupon(c, now) })}), nil
	}
}

// redemptionView is the answer to a redemption: the coupon as redeemed.
type redemptionView struct {
	CouponCode string        `json:"couponCode"`
	Status     coupon.Status `json:"status"`
	RedeemedAt time.Time     `json:"redeemedAt"`
}

func viewRedemption(c coupon.Coupon) redemptionView {
	return redemptionView{CouponCode: c.Code, Status: c.Status, RedeemedAt: c.RedeemedAt}
}

func redeemCoupon(svc *coupon.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		respond := func(c coupon.Coupon) httpapi.Response { return httpapi.OK(viewRedemption(c)) }
		c, err := svc.Redeem(httpapi.Answering(ctx, respond), r.Caller, r.PathParam("couponCode"))
		return respond(c), err
	}
}
