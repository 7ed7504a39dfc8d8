package api

import (
	"context"
	"encoding/json"

	"github.com/laoyou/laoyou/shared/groupbuy"
)

// CloserResult is what one closer run did.
type CloserResult struct {
	Settled   int `json:"settled"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`  // settled by another run meanwhile
	Examined  int `json:"examined"` // expiry index entries read
	Errors    int `json:"errors"`   // rooms left for the next run
}

// Closer is the closer function's handler: it settles expired rooms. The
// schedule's event says nothing the closer needs; each run settles what is
// due at its start, within the invocation's deadline.
func Closer(d *Deps) func(context.Context, json.RawMessage) (CloserResult, error) {
	svc := GroupService(d)
	return func(ctx context.Context, _ json.RawMessage) (CloserResult, error) {
		r, err := svc.CloseExpired(ctx, groupbuy.CloseOptions{
			OnError: func(ctx context.Context, groupID string, err error) {
				d.Log.WarnContext(ctx, "room not settled", "groupId", groupID, "error", err.Error())
			},
		})
		if err != nil {
			d.Log.ErrorContext(ctx, "closer run incomplete", "error", err.Error())
		}
		d.Log.InfoContext(ctx, "closer run", "settled", r.Settled, "succeeded", r.Succeeded,
			"failed", r.Failed, "skipped", r.Skipped, "examined", r.Examined, "errors", r.Errors)
		return CloserResult(r), err
	}
}
