// Command echo is the function the runtimeapi tests run: it answers every
// event with the event itself, or fails when the event asks it to.
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Say  string `json:"say,omitempty"`
	Fail string `json:"fail,omitempty"`
}

func main() {
	lambda.Start(func(_ context.Context, e event) (event, error) {
		if e.Fail != "" {
			return event{}, errors.New(e.Fail)
		}
		return e, nil
	})
}
