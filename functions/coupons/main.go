// Command coupons is the Lambda function for coupon templates, claims and
// redemption.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/app"
)

func main() { lambda.Start(api.Coupons(app.FromEnv()).Handle) }
