package api

import (
	"context"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/referral"
)

// Referral is the referral function: codes, share links, binding, the
// referrer's view, and the clinic visits that qualify referrals.
func Referral(d *app.Deps) *httpapi.API {
	svc := d.Referrals()
	return httpapi.New(d.Log,
		httpapi.Route{Key: "POST /v1/referral/code", Access: auth.AnyUser, Handle: createCode(svc)},
		httpapi.Route{Key: "GET /v1/r/{code}", Access: auth.Public, Handle: resolveCode(svc)},
		httpapi.Route{Key: "POST /v1/r/{code}/open", Access: auth.Public, Handle: openCode(svc)},
		httpapi.Route{Key: "POST /v1/referral/bind", Access: auth.AnyUser, Handle: bindCode(svc)},
		httpapi.Route{Key: "GET /v1/referral/me", Access: auth.AnyUser, Handle: myReferrals(svc)},
		httpapi.Route{Key: "GET /v1/referral/code/image", Access: auth.AnyUser, Handle: referralCodeImage(d)},
		httpapi.Route{Key: "POST /v1/staff/visits", Access: auth.StaffOnly, Handle: recordVisit(svc)},
		httpapi.Route{Key: "POST /v1/staff/visits/{visitId}/refund", Access: auth.StaffOnly, Handle: refundVisit(svc)},
	)
}

func createCode(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		respond := func(s referral.Share) httpapi.Response { return httpapi.OK(s) }
		s, err := svc.MyCode(httpapi.Answering(ctx, respond), r.Caller)
		return respond(s), err
	}
}

// landingMaxAge is how long browsers and CDNs may keep a landing: a
// referrer's masked name and the clinic's profile change rarely, and a
// shared link is opened by many.
const landingMaxAge = "public, max-age=60"

func resolveCode(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		asking, err := askingTenant(apierr.Op("api.resolveCode"), r)
		if err != nil {
			return httpapi.Response{}, err
		}
		l, err := svc.Resolve(ctx, r.PathParam("code"), asking)
		resp := httpapi.OK(l)
		resp.Headers = map[string]string{"cache-control": landingMaxAge}
		return resp, err
	}
}

func openCode(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		respond := func(struct{}) httpapi.Response { return httpapi.NoContent() }
		return respond(struct{}{}), svc.Open(httpapi.Answering(ctx, respond), r.PathParam("code"))
	}
}

type bindRequest struct {
	Code string `json:"code"`
}

func (b *bindRequest) Valid() error {
	if b.Code == "" {
		return apierr.Missing("code")
	}
	return nil
}

func bindCode(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in bindRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(b referral.BindResult) httpapi.Response { return httpapi.OK(b) }
		b, err := svc.Bind(httpapi.Answering(ctx, respond), r.Caller, in.Code)
		return respond(b), err
	}
}

func myReferrals(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		m, err := svc.Me(ctx, r.Caller)
		return httpapi.OK(m), err
	}
}
