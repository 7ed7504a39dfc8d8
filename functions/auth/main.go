// Command auth is the Lambda function for WeChat sign-in, the token issuer's
// discovery document and keys, and binding a phone. It alone may sign tokens
// with the KMS key.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/kms"
)

func main() {
	d := api.FromEnv()
	keys, err := kms.NewClient(d.Config.Region)
	if err != nil {
		d.Log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	d.Tokens = kms.SigningKeys(keys, d.Config.TokenKeyID, d.Config.PreviousTokenKeyIDs)
	d.Secrets = kms.NewSealer(keys, d.Config.SecretsKeyID)
	lambda.Start(api.Auth(d).Handle)
}
