// Package dynamo is where Laoyou meets DynamoDB: the client, the table's
// keys, and the stores that keep each domain's state in the one table with
// conditional writes. Domain packages never see an AWS type.
package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/laoyou/laoyou/shared/config"
)

// NewClient returns a DynamoDB client for cfg. With an endpoint set (DynamoDB
// Local, a container) it uses static local credentials unless real ones are
// in the environment. Every client counts its calls (see Calls).
func NewClient(ctx context.Context, cfg config.Config, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	if cfg.Endpoint != "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, err
	}
	opts := []func(*dynamodb.Options){WithCallCounting}
	if cfg.Endpoint != "" {
		opts = append(opts, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	}
	return dynamodb.NewFromConfig(awsCfg, append(opts, optFns...)...), nil
}
