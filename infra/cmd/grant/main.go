// Command grant gives a user of a tenant a role, as PUT
// /v1/admin/roles/{userId} does: the operator's way to grant a tenant's
// first admin, who then grants the others through the API. It writes the
// role item with the caller's AWS credentials from the environment; their
// next sign-in carries the role.
//
// Usage:
//
//	go run ./infra/cmd/grant -tenant T -user U -role admin [-table laoyou-prod-Table-…] [-endpoint URL]
//
// -table defaults to $TABLE_NAME, -endpoint to $DYNAMODB_ENDPOINT (empty:
// DynamoDB in $AWS_REGION).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/laoyou/laoyou/shared/account"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/dynamo"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "grant:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	// A grant writes no phone hash, so the pepper is not needed here.
	cfg, _ := config.FromEnv()
	fs := flag.NewFlagSet("grant", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "the tenant (clinic) id")
	user := fs.String("user", "", "the user id (userId from their sign-in)")
	role := fs.String("role", "admin", "patient, staff or admin")
	fs.StringVar(&cfg.Table, "table", cfg.Table, "the DynamoDB table")
	fs.StringVar(&cfg.Endpoint, "endpoint", cfg.Endpoint, "another DynamoDB endpoint (DynamoDB Local)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !auth.ValidID(*tenant) {
		return fmt.Errorf("-tenant %q is not a valid id", *tenant)
	}
	db, err := dynamo.NewClient(ctx, cfg)
	if err != nil {
		return err
	}
	svc := &account.Service{Store: dynamo.AccountStore{Store: dynamo.NewStore(db, cfg.Table)}, Now: time.Now}
	if _, err := svc.Grant(ctx, *tenant, *user, auth.Role(*role)); err != nil {
		return err
	}
	fmt.Printf("granted %s to %s in %s (table %s)\n", *role, *user, *tenant, cfg.Table)
	return nil
}
