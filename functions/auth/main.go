// Command auth is the Lambda function for WeChat sign-in, the token issuer's
// discovery document and keys, binding a phone, and the caller's data rights
// (export, erasure). It alone may sign tokens with the KMS key.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/kms"
)

func main() {
	d := app.FromEnv()
	keys := kms.MustClient(d.Config.Region, d.Log)
	d.Tokens = kms.SigningKeys(keys, d.Config.TokenKeyID, d.Config.PreviousTokenKeyIDs)
	// Sign-in opens the clinic's app secret; the role may only decrypt.
	d.Secrets = kms.NewSealer(keys, d.Config.SecretsKeyID)
	lambda.Start(api.Auth(d).Handle)
}
