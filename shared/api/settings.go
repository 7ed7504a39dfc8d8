package api

import (
	"context"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/tenant"
)

// adminSettingsRoutes read and replace the clinic's program settings.
func adminSettingsRoutes(d *app.Deps) []httpapi.Route {
	admin := d.SettingsAdmin()
	return []httpapi.Route{
		{Key: "GET /v1/admin/settings", Access: auth.AdminOnly, Handle: getSettings(admin)},
		{Key: "PUT /v1/admin/settings", Access: auth.AdminOnly, Handle: putSettings(admin)},
	}
}

// settingsRequest is the body of PUT /v1/admin/settings; it replaces the
// settings, and an absent field takes its default.
type settingsRequest struct {
	Clinic            *tenant.Clinic     `json:"clinic"`
	NewcomerOffer     *tenant.Offer      `json:"newcomerOffer"`
	BindingWindowDays *int               `json:"bindingWindowDays"`
	HoldDays          *int               `json:"holdDays"`
	MonthlyCap        *int               `json:"monthlyCap"`
	Milestones        []tenant.Milestone `json:"milestones"`

	settings tenant.Settings
}

// Valid fills the defaults in and checks the values.
func (s *settingsRequest) Valid() error {
	st := tenant.Settings{Clinic: s.Clinic, NewcomerOffer: s.NewcomerOffer, HoldDays: s.HoldDays, Milestones: s.Milestones}
	st.BindingWindowDays = tenant.DefaultBindingWindowDays
	if s.BindingWindowDays != nil {
		st.BindingWindowDays = *s.BindingWindowDays
	}
	if s.MonthlyCap != nil {
		st.MonthlyCap = *s.MonthlyCap
	}
	s.settings = st
	return st.Validate()
}

func getSettings(admin *tenant.Admin) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		s, err := admin.Get(ctx, r.Caller.Tenant)
		return httpapi.OK(s), err
	}
}

func putSettings(admin *tenant.Admin) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in settingsRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(s tenant.Settings) httpapi.Response { return httpapi.OK(s) }
		s, err := admin.Save(httpapi.Answering(ctx, respond), r.Caller.Tenant, in.settings)
		return respond(s), err
	}
}
