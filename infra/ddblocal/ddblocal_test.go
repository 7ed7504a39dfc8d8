package ddblocal_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/samtemplate"
)

func start(t *testing.T, opts ddblocal.Options) *ddblocal.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := ddblocal.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, inst.Stop()) })
	return inst
}

func template(t *testing.T) *samtemplate.Template {
	t.Helper()
	path, err := samtemplate.FindPath()
	require.NoError(t, err)
	tmpl, err := samtemplate.Load(path)
	require.NoError(t, err)
	return tmpl
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

func TestStartInMemoryAndCreateTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inst := start(t, ddblocal.Options{})
	require.Equal(t, "http://127.0.0.1:"+strconv.Itoa(inst.Port), inst.Endpoint)

	client, err := ddblocal.NewClient(ctx, inst.Endpoint)
	require.NoError(t, err)
	require.Equal(t, 3, client.Options().Retryer.MaxAttempts())

	tmpl := template(t)
	require.NoError(t, ddblocal.CreateTable(ctx, client, tmpl, "laoyou"))
	// A second call finds the table (and its TTL) in place and succeeds.
	require.NoError(t, ddblocal.CreateTable(ctx, client, tmpl, "laoyou"))

	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("laoyou")})
	require.NoError(t, err)
	table := desc.Table
	require.Equal(t, types.TableStatusActive, table.TableStatus)
	require.Len(t, table.GlobalSecondaryIndexes, 2)
	require.True(t, aws.ToBool(table.StreamSpecification.StreamEnabled))
	require.Equal(t, types.StreamViewTypeNewAndOldImages, table.StreamSpecification.StreamViewType)
	require.NotEmpty(t, aws.ToString(table.LatestStreamArn))

	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("laoyou")})
	require.NoError(t, err)
	require.Equal(t, types.TimeToLiveStatusEnabled, ttl.TimeToLiveDescription.TimeToLiveStatus)
	require.Equal(t, "ttl", aws.ToString(ttl.TimeToLiveDescription.AttributeName))

	require.NoError(t, inst.Stop())
	select {
	case <-inst.Done():
	default:
		t.Fatal("Done must be closed after Stop")
	}
	_, err = client.ListTables(ctx, &dynamodb.ListTablesInput{})
	require.Error(t, err, "nothing may answer after Stop")
	require.NoError(t, inst.Stop(), "Stop twice is a no-op")
}

// TestKillAndRestartKeepsData is the durability check: with a DBPath, data
// written before a SIGKILL is there after a restart on the same endpoint.
func TestKillAndRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inst := start(t, ddblocal.Options{DBPath: t.TempDir()})
	endpoint := inst.Endpoint

	client, err := ddblocal.NewClient(ctx, endpoint)
	require.NoError(t, err)
	require.NoError(t, ddblocal.CreateTable(ctx, client, template(t), "durable"))
	_, err = client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("durable"), Item: key("a", "b")})
	require.NoError(t, err)

	require.NoError(t, inst.Kill())
	require.NoError(t, inst.Restart(ctx))
	require.Equal(t, endpoint, inst.Endpoint)

	got, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("durable"), Key: key("a", "b"), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	require.NotNil(t, got.Item, "the item must survive a crash")
}

func TestStartFailsWithJavaOutput(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", ":0") // every interface, as DynamoDB Local binds
	require.NoError(t, err)
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = ddblocal.Start(ctx, ddblocal.Options{Port: l.Addr().(*net.TCPAddr).Port})
	require.Error(t, err)
	require.ErrorContains(t, err, "java exited")
	require.ErrorContains(t, err, "Address already in use", "the error carries the JVM's output")
}

func TestNewClientNeedsEndpoint(t *testing.T) {
	_, err := ddblocal.NewClient(context.Background(), "")
	require.Error(t, err)
}
