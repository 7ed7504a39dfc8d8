package dynamo

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/laoyou/laoyou/shared/apierr"
)

// busyCodes are DynamoDB's answers that say "not now": worth the client's
// retry once the SDK's own retries are spent.
var busyCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
}

// WithUnavailableErrors turns a call's failure that outlasted the SDK's
// retries because DynamoDB was busy or out of reach (throttled, its own
// 500s, a connection that failed or timed out) into an apierr.Unavailable
// error, which the API answers 503 SERVICE_UNAVAILABLE: the client may retry
// with its Idempotency-Key. Anything else (a refused condition, a bad
// request) passes as it is. It sits in the Initialize step, so it sees the
// outcome after the SDK's retries.
func WithUnavailableErrors(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("LaoyouUnavailable",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil && isBusy(err) {
					err = apierr.E(apierr.Unavailable, "the service is busy, try again", err)
				}
				return out, md, err
			}), middleware.Before)
	})
}

func isBusy(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && busyCodes[api.ErrorCode()] {
		return true
	}
	// Any 5xx is the server's failure, whatever its body names (an
	// overloaded DynamoDB Local's Jetty answers without a DynamoDB error
	// type): nothing the request could change.
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return true
	}
	if api != nil {
		return false
	}
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	var attempts *retry.MaxAttemptsError
	return errors.As(err, &send) || errors.As(err, &netErr) || errors.As(err, &attempts) ||
		errors.Is(err, context.DeadlineExceeded)
}
