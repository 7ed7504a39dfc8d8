// Command referral is the Lambda function for referral codes, share links
// and binding.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/logging"
)

func main() {
	cfg := config.FromEnv()
	log := logging.New(os.Stdout, cfg.LogLevel)
	deps, err := api.NewDeps(context.Background(), cfg, log)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(api.Referral(deps).Handle)
}
