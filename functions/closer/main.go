// Command closer is the scheduled Lambda function that settles group-buy
// rooms past their expiry.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/stream"
)

func main() { lambda.Start(stream.Closer(app.FromEnv())) }
