package coldstart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// CostlyImport is a package whose init, or mere presence, costs a cold
// start more than it gives a function, with what to do instead.
type CostlyImport struct {
	Pattern *regexp.Regexp // matches the import path
	Why     string
}

// CostlyImports are the packages no function may link. They are checked
// on the import graph rather than on timings, so the check is exact on a
// noisy machine.
var CostlyImports = []CostlyImport{
	{
		Pattern: regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/service/[^/]+/schemas$`),
		Why: "the schema registry of an aws-sdk-go-v2 service generated for schema-based serialisation " +
			"builds every shape of the API at init (3 to 4 ms for DynamoDB's); use a version from before it " +
			"(service/dynamodb v1.68.0, service/kms v1.60.0)",
	},
	{
		Pattern: regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/service/dynamodbstreams$`),
		Why:     "the DynamoDB Streams client: Lambda delivers stream records as aws-lambda-go events, only the local runner reads a stream",
	},
	{
		Pattern: regexp.MustCompile(`^github\.com/pb33f/`),
		Why:     "OpenAPI parsing and validation: the contract tests check answers with it, no function needs it",
	},
	{
		Pattern: regexp.MustCompile(`^net/rpc$`),
		Why:     "aws-lambda-go's RPC mode, which provided.al2023 does not use: build with -tags lambda.norpc",
	},
	{
		Pattern: regexp.MustCompile(`^html/template$`),
		Why:     "escaping tables and templates built at init; no function renders HTML",
	},
}

// Costly returns, for each import path in deps that CostlyImports names,
// the path and why it is costly.
func Costly(deps []string) []string {
	var found []string
	for _, d := range deps {
		for _, c := range CostlyImports {
			if c.Pattern.MatchString(d) {
				found = append(found, d+": "+c.Why)
			}
		}
	}
	return found
}

// Deps lists every package that the main package pkg links when built as
// the functions are (BuildFlags' tags, for linux/arm64), from the
// repository at root.
func Deps(ctx context.Context, root, pkg string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", buildTags(), pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+LinuxARM64.GOOS, "GOARCH="+LinuxARM64.GOARCH)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return nil, fmt.Errorf("coldstart: listing the imports of %s: %w\n%s", pkg, err, msg)
	}
	return strings.Fields(string(out)), nil
}

// buildTags is the value of -tags in BuildFlags.
func buildTags() string {
	for i, f := range BuildFlags {
		if f == "-tags" && i+1 < len(BuildFlags) {
			return BuildFlags[i+1]
		}
	}
	return ""
}
