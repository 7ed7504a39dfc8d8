// Command referral is the Lambda function for referral codes, share links,
// binding, clinic visits and refunds, the referral code's mini-program code,
// and the API's answer to unknown routes (NOT_FOUND).
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
	// Mini-program codes open the clinic's app secret; the role may only decrypt.
	d.Secrets = kms.NewSealer(keys, d.Config.SecretsKeyID)
	lambda.Start(api.Referral(d).Handle)
}
