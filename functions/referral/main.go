// Command referral is the Lambda function for referral codes, share links and binding.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
)

func main() { lambda.Start(api.Referral(api.FromEnv()).Handle) }
