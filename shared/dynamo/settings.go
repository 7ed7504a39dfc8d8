package dynamo

import (
	"context"

	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/tenant"
)

var (
	_ tenant.Store           = (*SettingsStore)(nil)
	_ tenant.TemplateChecker = (*CouponStore)(nil)
)

// SettingsStore keeps each tenant's program settings at T#<tenant> / SETTINGS.
type SettingsStore struct{ *Store }

// settingsItem is tenant.Settings as stored; an absent attribute is the
// setting's default.
type settingsItem struct {
	key
	Kind              string            `dynamodbav:"kind"`
	Clinic            *clinicRecord     `dynamodbav:"clinic,omitempty"`
	NewcomerOffer     *offerRecord      `dynamodbav:"newcomerOffer,omitempty"`
	BindingWindowDays int               `dynamodbav:"bindingWindowDays,omitempty"`
	HoldDays          *int              `dynamodbav:"holdDays,omitempty"`
	MonthlyCap        int               `dynamodbav:"monthlyCap,omitempty"`
	Milestones        []milestoneRecord `dynamodbav:"milestones,omitempty"`
}

type clinicRecord struct {
	Name    string `dynamodbav:"name"`
	Address string `dynamodbav:"address,omitempty"`
	Phone   string `dynamodbav:"phone,omitempty"`
}

type offerRecord struct {
	Title      string `dynamodbav:"title"`
	TemplateID string `dynamodbav:"templateId,omitempty"`
}

type milestoneRecord struct {
	Count      int    `dynamodbav:"count"`
	TemplateID string `dynamodbav:"templateId"`
}

func newSettingsItem(t string, st tenant.Settings) settingsItem {
	it := settingsItem{
		key: key{PK: tenantPK(t), SK: skSettings}, Kind: kindSettings,
		BindingWindowDays: st.BindingWindowDays, HoldDays: st.HoldDays, MonthlyCap: st.MonthlyCap,
	}
	if c := st.Clinic; c != nil {
		it.Clinic = &clinicRecord{Name: c.Name, Address: c.Address, Phone: c.Phone}
	}
	if o := st.NewcomerOffer; o != nil {
		it.NewcomerOffer = &offerRecord{Title: o.Title, TemplateID: o.TemplateID}
	}
	if st.Milestones != nil {
		it.Milestones = make([]milestoneRecord, len(st.Milestones))
		for i, m := range st.Milestones {
			it.Milestones[i] = milestoneRecord{Count: m.Count, TemplateID: m.TemplateID}
		}
	}
	return it
}

func (it settingsItem) settings() *tenant.Settings {
	st := &tenant.Settings{BindingWindowDays: it.BindingWindowDays, HoldDays: it.HoldDays, MonthlyCap: it.MonthlyCap}
	if c := it.Clinic; c != nil {
		st.Clinic = &tenant.Clinic{Name: c.Name, Address: c.Address, Phone: c.Phone}
	}
	if o := it.NewcomerOffer; o != nil {
		st.NewcomerOffer = &tenant.Offer{Title: o.Title, TemplateID: o.TemplateID}
	}
	if it.Milestones != nil {
		st.Milestones = make([]tenant.Milestone, len(it.Milestones))
		for i, m := range it.Milestones {
			st.Milestones[i] = tenant.Milestone{Count: m.Count, TemplateID: m.TemplateID}
		}
	}
	return st
}

// Settings reads a tenant's program settings, strongly consistent, so an
// admin reads back what they just saved.
func (s SettingsStore) Settings(ctx context.Context, t string) (*tenant.Settings, error) {
	var it settingsItem
	found, err := s.getItemConsistent(ctx, key{PK: tenantPK(t), SK: skSettings}, &it)
	if !found || err != nil {
		return nil, err
	}
	return it.settings(), nil
}

// SaveSettings replaces a tenant's program settings.
func (s SettingsStore) SaveSettings(ctx context.Context, t string, st tenant.Settings) error {
	put, err := s.put(newSettingsItem(t, st))
	if err != nil {
		return err
	}
	return s.putAlone(ctx, put)
}

// withSettings reads the item at k into out and the tenant's settings in
// one BatchGetItem (strongly consistent): the route's own read and, when a
// function has none cached, the settings it needs, in one call.
//
// Extra keys and destinations may follow in pairs (key, out), read in the
// same call; a missing one leaves its destination as it is.
func (s *Store) withSettings(ctx context.Context, t string, k key, out any, extra ...any) (found bool, st *tenant.Settings, err error) {
	sk := key{PK: tenantPK(t), SK: skSettings}
	var settings settingsItem
	outs := map[key]any{k: out, sk: &settings}
	for i := 0; i+1 < len(extra); i += 2 {
		outs[extra[i].(key)] = extra[i+1]
	}
	got, err := s.getAll(ctx, outs)
	if err != nil {
		return false, nil, err
	}
	if got[sk] {
		st = settings.settings()
	}
	return got[k], st, nil
}

// FindCodeFor reads a referral code, the phone hash on the user's profile
// and, withSettings, the tenant's settings in one BatchGetItem.
func (s ReferralStore) FindCodeFor(ctx context.Context, code, t, userID string, withSettings bool) (*referral.Code, string, *tenant.Settings, error) {
	var it codeItem
	var profile profileItem
	var st *tenant.Settings
	var found bool
	var err error
	if withSettings {
		found, st, err = s.withSettings(ctx, t, key{PK: codePK(code), SK: skSelf}, &it, profileKey(t, userID), &profile)
	} else {
		found, err = s.getWith(ctx, key{PK: codePK(code), SK: skSelf}, &it, profileKey(t, userID), &profile)
	}
	if !found || err != nil {
		return nil, profile.PhoneHash, st, err
	}
	return it.code(), profile.PhoneHash, st, nil
}

// FindCodeWithSettings reads a referral code and tenant t's settings in
// one BatchGetItem: a landing page that names its clinic.
func (s ReferralStore) FindCodeWithSettings(ctx context.Context, code, t string) (*referral.Code, *tenant.Settings, error) {
	var it codeItem
	found, st, err := s.withSettings(ctx, t, key{PK: codePK(code), SK: skSelf}, &it)
	if !found || err != nil {
		return nil, st, err
	}
	return it.code(), st, nil
}

// RoomWithSettings reads a room and tenant t's settings in one
// BatchGetItem: a room's page that names its clinic.
func (s GroupStore) RoomWithSettings(ctx context.Context, groupID, t string) (*groupbuy.Room, *tenant.Settings, error) {
	var it roomItem
	found, st, err := s.withSettings(ctx, t, key{PK: roomPK(groupID), SK: skSelf}, &it)
	if !found || err != nil {
		return nil, st, err
	}
	return it.room(), st, nil
}

// VisitorWithSettings reads the user's binding and role record and the
// tenant's settings in one strongly consistent call.
func (s ReferralStore) VisitorWithSettings(ctx context.Context, t, userID string) (referral.Visitor, *tenant.Settings, error) {
	return s.visitor(ctx, t, userID, true)
}

// visitor reads the user's binding and role record and, withSettings, the
// tenant's settings, in one strongly consistent BatchGetItem.
func (s ReferralStore) visitor(ctx context.Context, t, userID string, withSettings bool) (referral.Visitor, *tenant.Settings, error) {
	var binding bindingItem
	var role roleItem
	var bound bool
	var st *tenant.Settings
	var err error
	if withSettings {
		bound, st, err = s.withSettings(ctx, t, bindingKey(t, userID), &binding, roleKey(t, userID), &role)
	} else {
		bound, err = s.getWith(ctx, bindingKey(t, userID), &binding, roleKey(t, userID), &role)
	}
	if err != nil {
		return referral.Visitor{}, nil, err
	}
	v := referral.Visitor{Role: auth.Role(role.Role)}
	if bound {
		v.Binding = binding.binding()
	}
	return v, st, nil
}
