package stream

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/groupbuy"
)

// CloserResult is what one closer run did, as the closer function returns
// it: the rooms' settlement (see groupbuy.CloseReport) and the referral
// rewards whose hold passed (PENDING → ISSUED).
type CloserResult struct {
	Settled   int `json:"settled"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	Examined  int `json:"examined"`
	Errors    int `json:"errors"`
	Released  int `json:"released"`
}

func closerResult(r groupbuy.CloseReport, released int) CloserResult {
	return CloserResult{
		Settled: r.Settled, Succeeded: r.Succeeded, Failed: r.Failed, Skipped: r.Skipped,
		Examined: r.Examined, Errors: r.Errors, Released: released,
	}
}

// Closer is the closer function's handler: it settles expired rooms and
// releases held referral rewards, the two things whose time comes without
// a request. The schedule's event says nothing the closer needs; each run
// does what is due at its start, within the invocation's deadline.
func Closer(d *app.Deps) func(context.Context, json.RawMessage) (CloserResult, error) {
	svc := d.Groups()
	release := d.RewardReleaser().ReleaseDue
	return func(ctx context.Context, _ json.RawMessage) (CloserResult, error) {
		r, err := svc.CloseExpired(ctx, groupbuy.CloseOptions{
			OnError: func(ctx context.Context, groupID string, err error) {
				d.Log.WarnContext(ctx, "room not settled", "groupId", groupID, "error", err.Error())
			},
		})
		if err != nil {
			d.Log.ErrorContext(ctx, "closer run incomplete", "error", err.Error())
		}
		released, rerr := release(ctx)
		if rerr != nil {
			d.Log.ErrorContext(ctx, "reward release incomplete", "error", rerr.Error())
		}
		res := closerResult(r, released)
		d.Log.InfoContext(ctx, "closer run", "settled", res.Settled, "succeeded", res.Succeeded,
			"failed", res.Failed, "skipped", res.Skipped, "examined", res.Examined, "errors", res.Errors, "released", res.Released)
		return res, errors.Join(err, rerr)
	}
}
