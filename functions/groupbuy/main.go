// Command groupbuy is the Lambda function for group-buy deals and rooms.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
)

func main() { lambda.Start(api.GroupBuy(api.FromEnv()).Handle) }
