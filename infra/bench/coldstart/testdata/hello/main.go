// Command hello is the baseline of the cold-start figures: the smallest
// aws-lambda-go function, built with the same flags as the real ones, so
// that what the functions add to init is measured against what any Go
// Lambda function pays.
package main

import "github.com/aws/aws-lambda-go/lambda"

func main() {
	lambda.Start(func() (string, error) { return "hello", nil })
}
