package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
	av, err := attributevalue.MarshalMap(settingsItem{key: key{PK: tenantPK(t), SK: skSettings}, Kind: kindSettings, Settings: st})
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: av})
	return err
}
