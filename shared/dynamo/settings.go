package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/tenant"
)

var (
	_ tenant.Store           = (*SettingsStore)(nil)
	_ tenant.TemplateChecker = (*CouponStore)(nil)
)

// SettingsStore keeps each tenant's program settings at T#<tenant> / SETTINGS.
type SettingsStore struct{ *Store }

type settingsItem struct {
	key
	Kind string `dynamodbav:"kind"`
	tenant.Settings
}

// Settings reads a tenant's program settings, strongly consistent, so an
// admin reads back what they just saved.
func (s SettingsStore) Settings(ctx context.Context, t string) (*tenant.Settings, error) {
	var it settingsItem
	found, err := s.getItemConsistent(ctx, key{PK: tenantPK(t), SK: skSettings}, &it)
	if !found || err != nil {
		return nil, err
	}
	return &it.Settings, nil
}

// SaveSettings replaces a tenant's program settings.
func (s SettingsStore) SaveSettings(ctx context.Context, t string, st tenant.Settings) error {
	put, err := s.put(settingsItem{key: key{PK: tenantPK(t), SK: skSettings}, Kind: kindSettings, Settings: st})
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
	keys := []map[string]types.AttributeValue{k.av(), sk.av()}
	extraOut := map[key]any{}
	for i := 0; i+1 < len(extra); i += 2 {
		ek := extra[i].(key)
		extraOut[ek] = extra[i+1]
		keys = append(keys, ek.av())
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return false, nil, err
	}
	for _, item := range items {
		var got key
		if err := attributevalue.UnmarshalMap(item, &got); err != nil {
			return false, nil, err
		}
		switch got {
		case k:
			if err := attributevalue.UnmarshalMap(item, out); err != nil {
				return false, nil, err
			}
			found = true
		case sk:
			var it settingsItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return false, nil, err
			}
			st = &it.Settings
		default:
			if dst, ok := extraOut[got]; ok {
				if err := attributevalue.UnmarshalMap(item, dst); err != nil {
					return false, nil, err
				}
			}
		}
	}
	return found, st, nil
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

// getWith reads the item at k into out and, in the same BatchGetItem, the
// item at also into alsoOut (left as it is when missing).
func (s *Store) getWith(ctx context.Context, k key, out any, also key, alsoOut any) (found bool, err error) {
	items, err := s.batchGet(ctx, []map[string]types.AttributeValue{k.av(), also.av()})
	if err != nil {
		return false, err
	}
	for _, item := range items {
		var got key
		if err := attributevalue.UnmarshalMap(item, &got); err != nil {
			return false, err
		}
		switch got {
		case k:
			if err := attributevalue.UnmarshalMap(item, out); err != nil {
				return false, err
			}
			found = true
		case also:
			if err := attributevalue.UnmarshalMap(item, alsoOut); err != nil {
				return false, err
			}
		}
	}
	return found, nil
}

// VisitorWithSettings reads the user's binding and role record and the
// tenant's settings in one strongly consistent call.
func (s ReferralStore) VisitorWithSettings(ctx context.Context, t, userID string) (referral.Visitor, *tenant.Settings, error) {
	return s.visitor(ctx, t, userID, true)
}

// visitor reads the user's binding and role record and, withSettings, the
// tenant's settings, in one strongly consistent BatchGetItem.
func (s ReferralStore) visitor(ctx context.Context, t, userID string, withSettings bool) (referral.Visitor, *tenant.Settings, error) {
	keys := []map[string]types.AttributeValue{bindingKey(t, userID).av(), roleKey(t, userID).av()}
	sk := key{PK: tenantPK(t), SK: skSettings}
	if withSettings {
		keys = append(keys, sk.av())
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return referral.Visitor{}, nil, err
	}
	var v referral.Visitor
	var st *tenant.Settings
	for _, item := range items {
		var got key
		if err := attributevalue.UnmarshalMap(item, &got); err != nil {
			return referral.Visitor{}, nil, err
		}
		switch got {
		case bindingKey(t, userID):
			var it bindingItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return referral.Visitor{}, nil, err
			}
			v.Binding = it.binding()
		case roleKey(t, userID):
			if v.Role, err = roleFrom(item); err != nil {
				return referral.Visitor{}, nil, err
			}
		case sk:
			var it settingsItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return referral.Visitor{}, nil, err
			}
			st = &it.Settings
		}
	}
	return v, st, nil
}
