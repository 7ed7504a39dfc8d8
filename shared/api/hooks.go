package api

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/laoyou/laoyou/shared/httpapi"
)

// Hooks is the hooks function's handler: events from the table's stream.
func Hooks(d *Deps) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, nil
	}
}

func adminHookRoutes(d *Deps) []httpapi.Route { return nil }
