package samtemplate

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableInput builds the CreateTable call for the template's Table resource,
// named name (the template's own TableName, if any, is ignored so that tests
// can create many copies side by side).
//
// It carries what shapes data and queries: attributes, keys, global and local
// secondary indexes, the stream and the billing mode. Settings DynamoDB Local
// has no use for (SSE, point-in-time recovery, tags, deletion protection) are
// left out; TTL is a separate call (see TTLAttribute).
func (t *Template) TableInput(name string) (*dynamodb.CreateTableInput, error) {
	res, ok := t.Resource(TableLogicalID)
	if !ok || res.Type != TypeTable {
		return nil, fmt.Errorf("samtemplate: no %s resource named %q", TypeTable, TableLogicalID)
	}
	in, err := t.tableInput(res.Properties)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: Resources.%s.Properties: %w", TableLogicalID, err)
	}
	in.TableName = aws.String(name)
	return in, nil
}

func (t *Template) tableInput(p map[string]any) (*dynamodb.CreateTableInput, error) {
	in := &dynamodb.CreateTableInput{}

	for i, raw := range list(p["AttributeDefinitions"]) {
		m, _ := raw.(map[string]any)
		name, err1 := t.stringValue(m["AttributeName"])
		typ, err2 := t.stringValue(m["AttributeType"])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("AttributeDefinitions[%d]: %w", i, err)
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name),
			AttributeType: types.ScalarAttributeType(typ),
		})
	}
	if len(in.AttributeDefinitions) == 0 {
		return nil, errors.New("AttributeDefinitions is empty")
	}

	keys, err := t.keySchema(p["KeySchema"])
	if err != nil {
		return nil, fmt.Errorf("KeySchema: %w", err)
	}
	in.KeySchema = keys

	// CloudFormation's default billing mode is PROVISIONED.
	mode := string(types.BillingModeProvisioned)
	if v, ok := p["BillingMode"]; ok {
		if mode, err = t.stringValue(v); err != nil {
			return nil, fmt.Errorf("BillingMode: %w", err)
		}
	}
	in.BillingMode = types.BillingMode(mode)
	provisioned := in.BillingMode == types.BillingModeProvisioned
	if provisioned {
		if in.ProvisionedThroughput, err = t.throughput(p["ProvisionedThroughput"]); err != nil {
			return nil, fmt.Errorf("ProvisionedThroughput: %w", err)
		}
	}

	for i, raw := range list(p["GlobalSecondaryIndexes"]) {
		m, _ := raw.(map[string]any)
		name, keys, proj, err := t.secondaryIndex(m)
		if err != nil {
			return nil, fmt.Errorf("GlobalSecondaryIndexes[%d]: %w", i, err)
		}
		gsi := types.GlobalSecondaryIndex{IndexName: aws.String(name), KeySchema: keys, Projection: proj}
		if provisioned {
			if gsi.ProvisionedThroughput, err = t.throughput(m["ProvisionedThroughput"]); err != nil {
				return nil, fmt.Errorf("GlobalSecondaryIndexes[%d].ProvisionedThroughput: %w", i, err)
			}
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}

	for i, raw := range list(p["LocalSecondaryIndexes"]) {
		m, _ := raw.(map[string]any)
		name, keys, proj, err := t.secondaryIndex(m)
		if err != nil {
			return nil, fmt.Errorf("LocalSecondaryIndexes[%d]: %w", i, err)
		}
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes,
			types.LocalSecondaryIndex{IndexName: aws.String(name), KeySchema: keys, Projection: proj})
	}

	// In CloudFormation the presence of StreamViewType is what enables the
	// stream; the API wants StreamEnabled spelled out.
	if ss, ok := p["StreamSpecification"].(map[string]any); ok {
		view, err := t.stringValue(ss["StreamViewType"])
		if err != nil {
			return nil, fmt.Errorf("StreamSpecification.StreamViewType: %w", err)
		}
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(view),
		}
	}
	return in, nil
}

func (t *Template) keySchema(v any) ([]types.KeySchemaElement, error) {
	var keys []types.KeySchemaElement
	for i, raw := range list(v) {
		m, _ := raw.(map[string]any)
		name, err1 := t.stringValue(m["AttributeName"])
		typ, err2 := t.stringValue(m["KeyType"])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		keys = append(keys, types.KeySchemaElement{AttributeName: aws.String(name), KeyType: types.KeyType(typ)})
	}
	if len(keys) == 0 {
		return nil, errors.New("empty")
	}
	return keys, nil
}

func (t *Template) secondaryIndex(m map[string]any) (string, []types.KeySchemaElement, *types.Projection, error) {
	name, err := t.stringValue(m["IndexName"])
	if err != nil {
		return "", nil, nil, fmt.Errorf("IndexName: %w", err)
	}
	keys, err := t.keySchema(m["KeySchema"])
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s.KeySchema: %w", name, err)
	}
	pm, _ := m["Projection"].(map[string]any)
	proj := &types.Projection{}
	if v, ok := pm["ProjectionType"]; ok {
		typ, err := t.stringValue(v)
		if err != nil {
			return "", nil, nil, fmt.Errorf("%s.Projection.ProjectionType: %w", name, err)
		}
		proj.ProjectionType = types.ProjectionType(typ)
	}
	for _, a := range list(pm["NonKeyAttributes"]) {
		s, err := t.stringValue(a)
		if err != nil {
			return "", nil, nil, fmt.Errorf("%s.Projection.NonKeyAttributes: %w", name, err)
		}
		proj.NonKeyAttributes = append(proj.NonKeyAttributes, s)
	}
	return name, keys, proj, nil
}

func (t *Template) throughput(v any) (*types.ProvisionedThroughput, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("required when BillingMode is PROVISIONED")
	}
	r, err1 := t.intValue(m["ReadCapacityUnits"])
	w, err2 := t.intValue(m["WriteCapacityUnits"])
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &types.ProvisionedThroughput{
		ReadCapacityUnits:  aws.Int64(int64(r)),
		WriteCapacityUnits: aws.Int64(int64(w)),
	}, nil
}

// TTLAttribute returns the table's time-to-live attribute name, or "" when
// the template does not enable TTL.
func (t *Template) TTLAttribute() string {
	res, ok := t.Resource(TableLogicalID)
	if !ok {
		return ""
	}
	spec, _ := res.Properties["TimeToLiveSpecification"].(map[string]any)
	if enabled, err := t.boolValue(spec["Enabled"]); err != nil || !enabled {
		return ""
	}
	name, _ := t.stringValue(spec["AttributeName"])
	return name
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
