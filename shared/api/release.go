package api

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/referral"
)

// releaseRewards releases referral rewards whose hold has passed
// (PENDING→ISSUED). It is meant for the closer's schedule: safe to run twice
// at once, and what one run leaves is due for the next.
func releaseRewards(d *Deps) func(ctx context.Context) (released int, err error) {
	r := &referral.Releaser{
		Store: dynamo.ReferralStore{Store: d.Store},
		Now:   func() time.Time { return d.Now() },
	}
	return r.ReleaseDue
}
