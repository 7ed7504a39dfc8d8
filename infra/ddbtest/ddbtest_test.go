package ddbtest_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

func item(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

func TestTablesAreIndependent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := ddbtest.New(t), ddbtest.New(t)
	require.NotEqual(t, a.Table, b.Table)
	require.Equal(t, a.Endpoint, b.Endpoint, "one DynamoDB Local per process")
	require.True(t, strings.HasPrefix(a.Table, "t_"))
	if ep := os.Getenv(ddbtest.EndpointEnv); ep != "" {
		require.Equal(t, ep, a.Endpoint, "DYNAMODB_ENDPOINT wins over starting our own")
	}

	_, err := a.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(a.Table), Item: item("p", "s")})
	require.NoError(t, err)

	got, err := b.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(b.Table), Key: item("p", "s")})
	require.NoError(t, err)
	require.Nil(t, got.Item, "b must not see a's item")

	got, err = a.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(a.Table), Key: item("p", "s")})
	require.NoError(t, err)
	require.NotNil(t, got.Item)
}

// TestConditionalPut proves the table is real DynamoDB: the condition is
// enforced by the server and the SDK maps the error to its typed exception.
func TestConditionalPut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := ddbtest.New(t)
	put := &dynamodb.PutItemInput{
		TableName:           aws.String(db.Table),
		Item:                item("room#1", "member#u1"),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}
	_, err := db.Client.PutItem(ctx, put)
	require.NoError(t, err)

	_, err = db.Client.PutItem(ctx, put)
	var ccf *types.ConditionalCheckFailedException
	require.ErrorAs(t, err, &ccf)
}

func TestNewClientWithMiddleware(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := ddbtest.New(t)

	var calls atomic.Int64
	counting := db.NewClient(t, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("count",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					calls.Add(1)
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	})
	_, err := counting.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(db.Table), Item: item("a", "b")})
	require.NoError(t, err)
	_, err = counting.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(db.Table), Key: item("a", "b")})
	require.NoError(t, err)
	require.Equal(t, int64(2), calls.Load())
}

func TestTableShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := ddbtest.New(t)
	desc, err := db.Client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(db.Table)})
	require.NoError(t, err)
	var names []string
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		names = append(names, aws.ToString(g.IndexName))
	}
	require.ElementsMatch(t, []string{"Expiring", "ByOwner"}, names)
	require.Equal(t, ddbtest.Template(t).TTLAttribute(), "ttl")
}

// WithoutStream leaves out the stream and nothing else.
func TestWithoutStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shape := func(db *ddbtest.DB) (*types.TableDescription, *dynamodb.DescribeTimeToLiveOutput) {
		desc, err := db.Client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(db.Table)})
		require.NoError(t, err)
		ttl, err := db.Client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(db.Table)})
		require.NoError(t, err)
		return desc.Table, ttl
	}
	with, withTTL := shape(ddbtest.New(t))
	without, withoutTTL := shape(ddbtest.New(t, ddbtest.WithoutStream()))

	require.NotEmpty(t, aws.ToString(with.LatestStreamArn), "the template's table has a stream")
	require.Empty(t, aws.ToString(without.LatestStreamArn))
	require.True(t, without.StreamSpecification == nil || !aws.ToBool(without.StreamSpecification.StreamEnabled))

	require.Equal(t, with.KeySchema, without.KeySchema)
	require.ElementsMatch(t, with.AttributeDefinitions, without.AttributeDefinitions)
	indexes := func(d *types.TableDescription) map[string][]types.KeySchemaElement {
		m := map[string][]types.KeySchemaElement{}
		for _, g := range d.GlobalSecondaryIndexes {
			m[aws.ToString(g.IndexName)] = g.KeySchema
		}
		return m
	}
	require.Equal(t, indexes(with), indexes(without))
	require.Equal(t, withTTL.TimeToLiveDescription.AttributeName, withoutTTL.TimeToLiveDescription.AttributeName)
	require.Equal(t, withTTL.TimeToLiveDescription.TimeToLiveStatus, withoutTTL.TimeToLiveDescription.TimeToLiveStatus)
}
