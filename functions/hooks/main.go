// Command hooks is the Lambda function that applies hook rules to the events
// it reads from the table's stream.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
)

func main() { lambda.Start(api.Hooks(api.FromEnv())) }
