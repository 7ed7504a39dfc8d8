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

// settingsView is the program settings as the admin routes show them.
type settingsView struct {
	Clinic            *clinicView     `json:"clinic,omitempty"`
	NewcomerOffer     *offerView      `json:"newcomerOffer"`
	BindingWindowDays int             `json:"bindingWindowDays"`
	HoldDays          *int            `json:"holdDays"`
	MonthlyCap        int             `json:"monthlyCap"`
	Milestones        []milestoneView `json:"milestones"`
}

// milestoneView is a milestone bonus, as sent and as shown.
type milestoneView struct {
	Count      int    `json:"count"`
	TemplateID string `json:"templateId"`
}

func viewSettings(s tenant.Settings) settingsView {
	v := settingsView{
		Clinic: viewClinic(s.Clinic), NewcomerOffer: viewOffer(s.NewcomerOffer),
		BindingWindowDays: s.BindingWindowDays, HoldDays: s.HoldDays, MonthlyCap: s.MonthlyCap,
	}
	if s.Milestones != nil { // nil shows as null, none as []
		v.Milestones = make([]milestoneView, len(s.Milestones))
		for i, m := range s.Milestones {
			v.Milestones[i] = milestoneView{Count: m.Count, TemplateID: m.TemplateID}
		}
	}
	return v
}

// settingsRequest is the body of PUT /v1/admin/settings; it replaces the
// settings, and an absent field takes its default. The clinic and offer
// are sent as they are shown.
type settingsRequest struct {
	Clinic            *clinicView     `json:"clinic"`
	NewcomerOffer     *offerView      `json:"newcomerOffer"`
	BindingWindowDays *int            `json:"bindingWindowDays"`
	HoldDays          *int            `json:"holdDays"`
	MonthlyCap        *int            `json:"monthlyCap"`
	Milestones        []milestoneView `json:"milestones"`
}

// settings is the request as the tenant rules take it, defaults filled in.
func (in *settingsRequest) settings() tenant.Settings {
	s := tenant.Settings{BindingWindowDays: tenant.DefaultBindingWindowDays, HoldDays: in.HoldDays}
	if in.BindingWindowDays != nil {
		s.BindingWindowDays = *in.BindingWindowDays
	}
	if in.MonthlyCap != nil {
		s.MonthlyCap = *in.MonthlyCap
	}
	if c := in.Clinic; c != nil {
		s.Clinic = &tenant.Clinic{Name: c.Name, Address: c.Address, Phone: c.Phone}
	}
	if o := in.NewcomerOffer; o != nil {
		s.NewcomerOffer = &tenant.Offer{Title: o.Title, TemplateID: o.TemplateID}
	}
	if in.Milestones != nil {
		s.Milestones = make([]tenant.Milestone, len(in.Milestones))
		for i, m := range in.Milestones {
			s.Milestones[i] = tenant.Milestone{Count: m.Count, TemplateID: m.TemplateID}
		}
	}
	return s
}

// Valid checks the body by the tenant rules.
func (in *settingsRequest) Valid() error {
	return in.settings().Validate()
}

func getSettings(admin *tenant.Admin) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		s, err := admin.Get(ctx, r.Caller.Tenant)
		return httpapi.OK(viewSettings(s)), err
	}
}

func putSettings(admin *tenant.Admin) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in settingsRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(s tenant.Settings) httpapi.Response { return httpapi.OK(viewSettings(s)) }
		s, err := admin.Save(httpapi.Answering(ctx, respond), r.Caller.Tenant, in.settings())
		return respond(s), err
	}
}
