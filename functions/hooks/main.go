// Command hooks is the Lambda function that applies hook rules to the events
// it reads from the table's stream.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/kms"
	"github.com/laoyou/laoyou/shared/stream"
)

func main() {
	d := app.FromEnv()
	keys := kms.MustClient(d.Config.Region, d.Log)
	// Subscribe messages open the tenant's app secret; the role may only decrypt.
	d.Secrets = kms.NewSealer(keys, d.Config.SecretsKeyID)
	lambda.Start(stream.Hooks(d))
}
