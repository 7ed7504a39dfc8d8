// Package dynamo is where Laoyou meets DynamoDB: the client, the table's
// keys, and the stores that keep each domain's state in the one table with
// conditional writes. Domain packages never see an AWS type.
package dynamo

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/laoyou/laoyou/shared/config"
)

// NewClient returns a DynamoDB client for cfg. Every client counts its
// calls (see Calls).
//
// Credentials come from the environment, where Lambda puts the function
// role's (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). The
// SDK's full default chain (profiles, SSO, STS, instance metadata) is left
// out on purpose: a function never uses it, and it would add megabytes to
// every binary and time to every cold start. With an endpoint set (DynamoDB
// Local, a container) and no keys in the environment, static local
// credentials are used.
func NewClient(ctx context.Context, cfg config.Config, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id == "" && cfg.Endpoint != "":
		id, secret = "local", "local"
	case id == "" || secret == "":
		return nil, errors.New("dynamo: no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	}
	awsCfg := aws.Config{
		Region:      cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN")),
	}
	opts := FunctionOptions()
	if cfg.Endpoint != "" {
		opts = append(opts, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	}
	return dynamodb.NewFromConfig(awsCfg, append(opts, optFns...)...), nil
}

// FunctionOptions are what every function's client adds to the SDK's, here
// and wherever a client for DynamoDB Local stands in for it: its calls
// counted, and failures that outlast the SDK's retries because DynamoDB is
// busy or out of reach answered 503 rather than 500.
func FunctionOptions() []func(*dynamodb.Options) {
	return []func(*dynamodb.Options){WithCallCounting, WithUnavailableErrors}
}
