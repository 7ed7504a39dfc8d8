package samtemplate_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/samtemplate"
)

func loadReal(t *testing.T) *samtemplate.Template {
	t.Helper()
	path, err := samtemplate.FindPath()
	require.NoError(t, err)
	tmpl, err := samtemplate.Load(path)
	require.NoError(t, err)
	return tmpl
}

func TestRealTemplateTable(t *testing.T) {
	tmpl := loadReal(t)
	in, err := tmpl.TableInput("laoyou-test")
	require.NoError(t, err)

	require.Equal(t, "laoyou-test", aws.ToString(in.TableName))
	require.Equal(t, types.BillingModePayPerRequest, in.BillingMode)
	require.Nil(t, in.ProvisionedThroughput)
	require.Equal(t, []types.KeySchemaElement{
		{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
	}, in.KeySchema)

	attrs := map[string]types.ScalarAttributeType{}
	for _, a := range in.AttributeDefinitions {
		attrs[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	require.Equal(t, types.ScalarAttributeTypeS, attrs["pk"])
	require.Equal(t, types.ScalarAttributeTypeS, attrs["sk"])

	gsis := map[string]types.GlobalSecondaryIndex{}
	for _, g := range in.GlobalSecondaryIndexes {
		gsis[aws.ToString(g.IndexName)] = g
		require.Nil(t, g.ProvisionedThroughput, "on-demand tables carry no index throughput")
		for _, k := range g.KeySchema {
			require.Contains(t, attrs, aws.ToString(k.AttributeName), "index key must be defined")
		}
	}
	require.Contains(t, gsis, "Expiring")
	require.Contains(t, gsis, "ByOwner")
	require.Equal(t, types.ProjectionTypeKeysOnly, gsis["Expiring"].Projection.ProjectionType)
	require.Equal(t, types.ProjectionTypeAll, gsis["ByOwner"].Projection.ProjectionType)

	require.NotNil(t, in.StreamSpecification)
	require.True(t, aws.ToBool(in.StreamSpecification.StreamEnabled))
	require.Equal(t, types.StreamViewTypeNewAndOldImages, in.StreamSpecification.StreamViewType)

	require.Equal(t, "ttl", tmpl.TTLAttribute())
}

func TestRealTemplateRoutes(t *testing.T) {
	tmpl := loadReal(t)
	routes := tmpl.Routes()
	require.NotEmpty(t, routes)

	byName := map[string]samtemplate.Route{}
	for _, r := range routes {
		require.NotContains(t, byName, r.String(), "duplicate route")
		byName[r.String()] = r
		require.Contains(t, tmpl.Functions(), r.Function)
	}
	require.Contains(t, byName, "POST /v1/referral/code")
	require.False(t, byName["POST /v1/referral/code"].Public)
	require.Contains(t, byName, "GET /v1/r/{code}")
	require.True(t, byName["GET /v1/r/{code}"].Public)

	for i := 1; i < len(routes); i++ {
		a, b := routes[i-1], routes[i]
		require.True(t, a.Path < b.Path || a.Path == b.Path && a.Method <= b.Method,
			"routes not sorted: %v before %v", a, b)
	}
	require.Contains(t, tmpl.Functions(), "ReferralFunction")
}

func TestRealTemplateEventsNameFunctions(t *testing.T) {
	tmpl := loadReal(t)
	for _, s := range tmpl.Schedules() {
		require.Contains(t, tmpl.Functions(), s.Function)
		require.NotEmpty(t, s.Expression)
	}
	for _, c := range tmpl.StreamConsumers() {
		require.Contains(t, tmpl.Functions(), c.Function)
		require.Positive(t, c.BatchSize)
	}
}

const inline = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Batch:
    Type: Number
    Default: 25
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: S}
        - {AttributeName: g, AttributeType: N}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: "7"}
      GlobalSecondaryIndexes:
        - IndexName: ByG
          KeySchema: [{AttributeName: g, KeyType: HASH}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [a, b]}
          ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 2}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: "false"}
  Closer:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref Table
          ARN: !GetAtt Table.Arn
          URL: !Sub "https://${Table}"
      Events:
        Tick:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 minute)
        Old:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
  Hooks:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: !Ref Batch
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
        Plain:
          Type: DynamoDB
          Properties:
            Stream: {"Fn::GetAtt": ["Table", "StreamArn"]}
        Catchall:
          Type: HttpApi
        Lower:
          Type: HttpApi
          Properties: {Path: /x, Method: get, Auth: {Authorizer: NONE}}
`

func TestInlineTemplate(t *testing.T) {
	tmpl, err := samtemplate.Parse([]byte(inline))
	require.NoError(t, err)

	require.Equal(t, []string{"Closer", "Hooks"}, tmpl.Functions())
	require.Equal(t, []samtemplate.Schedule{
		{Function: "Closer", Event: "Old", Expression: "cron(0 3 * * ? *)"},
		{Function: "Closer", Event: "Tick", Expression: "rate(1 minute)"},
	}, tmpl.Schedules())
	require.Equal(t, []samtemplate.StreamConsumer{
		{Function: "Hooks", Event: "Plain", BatchSize: 100},
		{Function: "Hooks", Event: "Stream", BatchSize: 25, ReportBatchItemFailures: true,
			FilterPatterns: []string{`{"eventName": ["INSERT"]}`}},
	}, tmpl.StreamConsumers())
	require.Equal(t, []samtemplate.Route{
		{Function: "Hooks", Event: "Catchall", Method: "ANY", Path: "$default"},
		{Function: "Hooks", Event: "Lower", Method: "GET", Path: "/x", Public: true},
	}, tmpl.Routes())

	// Short-form tags come out in long form.
	closer, ok := tmpl.Resource("Closer")
	require.True(t, ok)
	vars := closer.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	require.Equal(t, map[string]any{"Ref": "Table"}, vars["TABLE"])
	require.Equal(t, map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}, vars["ARN"])
	require.Equal(t, map[string]any{"Fn::Sub": "https://${Table}"}, vars["URL"])

	in, err := tmpl.TableInput("x")
	require.NoError(t, err)
	require.Equal(t, types.BillingModeProvisioned, in.BillingMode)
	require.Equal(t, &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(7)}, in.ProvisionedThroughput)
	require.Len(t, in.GlobalSecondaryIndexes, 1)
	g := in.GlobalSecondaryIndexes[0]
	require.Equal(t, types.ProjectionTypeInclude, g.Projection.ProjectionType)
	require.Equal(t, []string{"a", "b"}, g.Projection.NonKeyAttributes)
	require.Equal(t, int64(2), aws.ToInt64(g.ProvisionedThroughput.WriteCapacityUnits))
	require.Equal(t, types.StreamViewTypeNewImage, in.StreamSpecification.StreamViewType)
	require.Empty(t, tmpl.TTLAttribute(), "TTL is disabled")
}

func TestParseErrors(t *testing.T) {
	for name, src := range map[string]string{
		"not yaml":         "a: [",
		"not a mapping":    "- a",
		"schedule no expr": "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: ScheduleV2, Properties: {}}}}}}",
		"intrinsic path":   "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: HttpApi, Properties: {Path: !Ref P}}}}}}",
		"bad batch size":   "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: DynamoDB, Properties: {BatchSize: many}}}}}}",
		"bad filter":       "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: DynamoDB, Properties: {FilterCriteria: {Filters: [{Pattern: {a: 1}}]}}}}}}}",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := samtemplate.Parse([]byte(src))
			require.Error(t, err)
		})
	}

	tmpl, err := samtemplate.Parse([]byte("Resources: {}"))
	require.NoError(t, err)
	_, err = tmpl.TableInput("x")
	require.ErrorContains(t, err, "no AWS::DynamoDB::Table")

	tmpl, err = samtemplate.Parse([]byte("Resources: {Table: {Type: AWS::DynamoDB::Table, Properties: {AttributeDefinitions: [{AttributeName: a, AttributeType: S}], KeySchema: [{AttributeName: a, KeyType: HASH}]}}}"))
	require.NoError(t, err)
	_, err = tmpl.TableInput("x")
	require.ErrorContains(t, err, "ProvisionedThroughput", "CloudFormation's default billing mode is PROVISIONED")
}
