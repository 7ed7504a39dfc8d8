package referral

import (
	"context"
	"errors"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
)

// RewardedEvent is recorded when a referral's first reward is released and
// the referral becomes REWARDED. Like referral.clicked it is internal: it
// feeds the stats and no hook rule may subscribe to it.
const RewardedEvent event.Type = "referral.rewarded"

// HeldReward is a referral reward coupon on hold (PENDING) whose release
// time has come.
type HeldReward struct {
	CouponCode string
	Tenant     string
	VisitID    string
	RefereeID  string
	ReferrerID string
	ReleaseAt  time.Time
}

// HoldStore finds held rewards that are due and releases them.
type HoldStore interface {
	// HoldShards is how many partitions held rewards are spread over.
	HoldShards() int
	// DueRewards lists the held rewards of shard due at now, oldest first,
	// at most limit.
	DueRewards(ctx context.Context, shard int, now time.Time, limit int) ([]HeldReward, error)
	// ReleaseReward turns the coupon PENDING→ISSUED on the condition that it
	// is still PENDING, takes it off its visit's held list and, the first
	// time one of the visit's rewards is released, turns the referral
	// QUALIFIED→REWARDED with e (referral.rewarded). released is false if
	// the coupon was no longer PENDING (released by a concurrent run, or
	// voided by a refund).
	ReleaseReward(ctx context.Context, h HeldReward, at time.Time, e event.Event) (released bool, err error)
}

// releaseBatch bounds what one shard's query returns per round.
const releaseBatch = 100

// Releaser releases referral rewards whose hold has passed. It runs on the
// closer's schedule; two runs at once release each reward once, and a run
// that stops midway leaves the rest for the next.
type Releaser struct {
	Store HoldStore
	Now   func() time.Time
}

// ReleaseDue releases every reward due now, within ctx's deadline.
func (r *Releaser) ReleaseDue(ctx context.Context) (released int, err error) {
	const op = apierr.Op("referral.ReleaseDue")
	now := r.Now().UTC()
	var errs []error
	for shard := 0; shard < r.Store.HoldShards(); shard++ {
		for {
			due, err := r.Store.DueRewards(ctx, shard, now, releaseBatch)
			if err != nil {
				errs = append(errs, err)
				break
			}
			progress := false
			for _, h := range due {
				if ctx.Err() != nil {
					return released, apierr.E(op, errors.Join(append(errs, ctx.Err())...))
				}
				e := event.New(RewardedEvent, h.Tenant, now, map[string]any{
					"referrerId": h.ReferrerID, "refereeId": h.RefereeID, "visitId": h.VisitID,
				})
				ok, err := r.Store.ReleaseReward(ctx, h, now, e)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if ok {
					released++
					progress = true
				}
			}
			// A full page may hide more; a page that released nothing (its
			// entries failed, or were released by another run and still
			// linger in the eventually consistent index) ends the shard's
			// round, so a run always ends.
			if len(due) < releaseBatch || !progress {
				break
			}
		}
	}
	if len(errs) > 0 {
		return released, apierr.E(op, errors.Join(errs...))
	}
	return released, nil
}
