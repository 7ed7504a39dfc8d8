package api

import (
	"context"
	"time"

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
		httpapi.Route{Key: "GET /v1/referral/code/image", Access: auth.AnyUser, Handle: referralCodeImage(d.ShareImages(), svc)},
		httpapi.Route{Key: "POST /v1/staff/visits", Access: auth.StaffOnly, Handle: recordVisit(svc)},
		httpapi.Route{Key: "POST /v1/staff/visits/{visitId}/refund", Access: auth.StaffOnly, Handle: refundVisit(svc)},
	)
}

// codeView is the caller's referral code with its share links.
type codeView struct {
	Code string `json:"code"`
	linkView
}

func viewCode(s referral.Share) codeView { return codeView{Code: s.Code, linkView: viewLink(s.Link)} }

func createCode(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		respond := func(s referral.Share) httpapi.Response { return httpapi.OK(viewCode(s)) }
		s, err := svc.MyCode(httpapi.Answering(ctx, respond), r.Caller)
		return respond(s), err
	}
}

// landingMaxAge is how long browsers and CDNs may keep a landing: a
// referrer's masked name and the clinic's profile change rarely, and a
// shared link is opened by many.
const landingMaxAge = "public, max-age=60"

// landingView is what a shared code opens.
type landingView struct {
	Code          string      `json:"code"`
	Tenant        string      `json:"tenant"`
	Clinic        *clinicView `json:"clinic"`
	Referrer      personView  `json:"referrer"`
	NewcomerOffer *offerView  `json:"newcomerOffer"`
}

func viewLanding(l referral.Landing) landingView {
	return landingView{
		Code: l.Code, Tenant: l.Tenant, Clinic: viewClinic(l.Clinic),
		Referrer: viewPerson(l.Referrer), NewcomerOffer: viewOffer(l.NewcomerOffer),
	}
}

// personView is another patient as shown: a masked name only.
type personView struct {
	DisplayName string `json:"displayName"`
}

func viewPerson(p referral.Person) personView { return personView{DisplayName: p.DisplayName} }

func resolveCode(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		asking, err := askingTenant(apierr.Op("api.resolveCode"), r)
		if err != nil {
			return httpapi.Response{}, err
		}
		l, err := svc.Resolve(ctx, r.PathParam("code"), asking)
		resp := httpapi.OK(viewLanding(l))
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

// bindRequest is the body of POST /v1/referral/bind.
type bindRequest struct {
	Code string `json:"code"`
}

func (b *bindRequest) Valid() error {
	if b.Code == "" {
		return apierr.Missing("code")
	}
	return nil
}

// bindView is a successful bind, for the page the newcomer shows at the
// clinic.
type bindView struct {
	Referrer personView `json:"referrer"`
	Referee  personView `json:"referee"`
	BoundAt  time.Time  `json:"boundAt"`
}

func viewBind(b referral.BindResult) bindView {
	return bindView{Referrer: viewPerson(b.Referrer), Referee: viewPerson(b.Referee), BoundAt: b.BoundAt}
}

func bindCode(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in bindRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(b referral.BindResult) httpapi.Response { return httpapi.OK(viewBind(b)) }
		b, err := svc.Bind(httpapi.Answering(ctx, respond), r.Caller, in.Code)
		return respond(b), err
	}
}

// mineView is the referrer's own view: their code (null before they make
// one), their friends and the funnel's counts.
type mineView struct {
	Code      *string      `json:"code"`
	Referrals []friendView `json:"referrals"`
	Counts    countsView   `json:"counts"`
}

// friendView is a referee as their referrer sees them.
type friendView struct {
	DisplayName string    `json:"displayName"`
	Stage       string    `json:"stage"`
	BoundAt     time.Time `json:"boundAt"`
}

// countsView is the referrer's funnel.
type countsView struct {
	Bound     int `json:"bound"`
	Qualified int `json:"qualified"`
	Rewarded  int `json:"rewarded"`
}

func viewMine(m referral.Mine) mineView {
	v := mineView{Code: m.Code, Counts: countsView(m.Counts)}
	if m.Referrals != nil {
		v.Referrals = make([]friendView, len(m.Referrals))
	}
	for i, f := range m.Referrals {
		v.Referrals[i] = friendView{DisplayName: f.DisplayName, Stage: string(f.Stage), BoundAt: f.BoundAt}
	}
	return v
}

func myReferrals(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		m, err := svc.Me(ctx, r.Caller)
		return httpapi.OK(viewMine(m)), err
	}
}
