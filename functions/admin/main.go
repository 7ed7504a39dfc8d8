// Command admin is the Lambda function for clinic operations: deals, coupon templates, hook rules, settings, stats, the clinic's mini-program and staff roles.
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
	// The admin function seals app secrets; its role may only encrypt.
	d.Secrets = kms.NewSealer(keys, d.Config.SecretsKeyID)
	lambda.Start(api.Admin(d).Handle)
}
