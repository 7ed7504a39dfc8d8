package api

import (
	"context"
	"encoding/json"
)

// CloserResult is what one closer run did.
type CloserResult struct {
	Settled int `json:"settled"`
}

// Closer is the closer function's handler: it settles expired rooms.
func Closer(d *Deps) func(context.Context, json.RawMessage) (CloserResult, error) {
	return func(context.Context, json.RawMessage) (CloserResult, error) { return CloserResult{}, nil }
}
