// Command admin is the Lambda function for clinic operations: deals, coupon templates, hook rules, settings and stats.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
)

func main() { lambda.Start(api.Admin(api.FromEnv()).Handle) }
