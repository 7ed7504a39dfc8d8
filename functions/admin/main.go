// Command admin is the Lambda function for clinic operations: deals, coupon
// templates, hook rules, settings, stats, the clinic's mini-program, staff
// roles and erasing a patient's data.
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
	// The admin function seals app secrets; its role may only encrypt.
	d.Secrets = kms.NewSealer(keys, d.Config.SecretsKeyID)
	lambda.Start(api.Admin(d).Handle)
}
