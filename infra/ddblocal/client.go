package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go"

	"github.com/laoyou/laoyou/infra/samtemplate"
)

// NewClient returns a DynamoDB client for the endpoint of a local DynamoDB
// (for example Instance.Endpoint): static credentials "local"/"local", region
// $AWS_REGION or us-east-1, and a standard retryer with at most 3 attempts.
// optFns run last, so callers can add middleware or change any of this.
//
// The configuration is built by hand rather than with config.LoadDefaultConfig
// so that nothing in ~/.aws or the environment (a profile, AWS_RETRY_MODE)
// changes how tests talk to DynamoDB Local.
func NewClient(ctx context.Context, endpoint string, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	if endpoint == "" {
		return nil, errors.New("ddblocal: NewClient: empty endpoint")
	}
	cfg := aws.Config{
		Region:      localRegion(""),
		Credentials: localCredentials,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				// The client-side retry quota exists to protect a real
				// service from retry storms; against a local server it only
				// turns injected faults into "retry quota exceeded" errors.
				o.RateLimiter = ratelimit.None
			})
		},
		// Benchmarks run thousands of concurrent calls against one host; the
		// SDK's default of 10 idle connections per host would open and close
		// sockets all the time (and fill the port range with TIME_WAIT).
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns = 1024
			t.MaxIdleConnsPerHost = 1024
		}),
	}
	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}}, optFns...)
	return dynamodb.NewFromConfig(cfg, opts...), nil
}

// NewStreamsClient returns a DynamoDB Streams client for the endpoint of a
// local DynamoDB, with NewClient's credentials; region "" is NewClient's
// region. A stream poller reads the table's stream through it.
func NewStreamsClient(endpoint, region string) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(aws.Config{
		Region:      localRegion(region),
		Credentials: localCredentials,
	}, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// localCredentials are what DynamoDB Local accepts: any, as long as some.
var localCredentials = credentials.NewStaticCredentialsProvider("local", "local", "")

// localRegion is region, or else $AWS_REGION, or else us-east-1.
func localRegion(region string) string {
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	return region
}

// CreateTable creates table name from the template's Table resource, waits
// until it is ACTIVE and enables TTL as the template says. A table that
// already exists counts as created.
//
// shape, if given, changes the template's table before it is created (a
// test's table without the stream, say).
func CreateTable(ctx context.Context, client *dynamodb.Client, tmpl *samtemplate.Template, name string, shape ...func(*dynamodb.CreateTableInput)) error {
	in, err := tmpl.TableInput(name)
	if err != nil {
		return err
	}
	for _, f := range shape {
		f(in)
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("ddblocal: create table %s: %w", name, err)
		}
	}
	// The SDK's waiter defaults (20 s between polls) suit AWS, not a local
	// server where tables are ACTIVE at once.
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("ddblocal: wait for table %s: %w", name, err)
	}

	attr := tmpl.TTLAttribute()
	if attr == "" {
		return nil
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attr),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil && !ttlAlreadyEnabled(err) {
		return fmt.Errorf("ddblocal: enable TTL on %s: %w", name, err)
	}
	return nil
}

// ttlAlreadyEnabled recognises the ValidationException DynamoDB returns when
// TTL is enabled a second time (the table already existed).
func ttlAlreadyEnabled(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" &&
		strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "already enabled")
}
