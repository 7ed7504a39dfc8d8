package hook

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/tenant"
)

// MilestoneRule is the built-in reaction to referral.qualified that gives a
// referrer the tenant's milestone bonuses.
const MilestoneRule = BuiltinPrefix + "milestone"

// MilestoneSource tells the milestone reaction what it needs.
type MilestoneSource interface {
	// Milestones are the tenant's milestone settings.
	Milestones(ctx context.Context, tenant string) ([]tenant.Milestone, error)
	// QualifiedFriends counts the referrer's friends whose referral
	// qualified and was not reversed, as stored now.
	QualifiedFriends(ctx context.Context, tenant, referrerID string) (int, error)
}

// MilestoneEffect is the effect key of a milestone bonus: one per
// (referrer, milestone), whatever event reached it.
func MilestoneEffect(tenant, referrerID string, count int) string {
	return "milestone#" + tenant + "#" + referrerID + "#" + strconv.Itoa(count)
}

// milestones gives the referrer of a qualified referral every milestone
// bonus their count of qualified friends has reached. The count is read
// when the event is handled rather than carried on it: the visit that
// qualifies writes one transaction, which cannot return the referrer's new
// count, and its one read is the referee's binding. Reading the count here
// (strongly consistent, after the qualification committed) and awarding
// every milestone at or below it means that two qualifications handled at
// once, or in either order, never skip one; the effect key makes each
// bonus happen once. A bonus is held like the referral's own rewards, on
// the visit of the event that reached it, and a refund of that visit voids
// it; it is not given again. Milestones count qualified friends whether or
// not the monthly cap let them be rewarded: each is paid once, ever.
func (d *Dispatcher) milestones(ctx context.Context, e event.Event) error {
	if d.Milestones == nil {
		return nil
	}
	referrer, _ := e.Data["referrerId"].(string)
	if referrer == "" || !eligible(e, Referrer) {
		return nil // staff earn no milestone bonus either
	}
	ms, err := d.Milestones.Milestones(ctx, e.Tenant)
	if err != nil || len(ms) == 0 {
		return err
	}
	n, err := d.Milestones.QualifiedFriends(ctx, e.Tenant, referrer)
	if err != nil {
		return err
	}
	hold, _ := referralHold(e)
	var errs []error
	for _, m := range ms {
		if m.Count > n {
			continue
		}
		errs = append(errs, d.reward(ctx, e, coupon.Reward{
			Tenant: e.Tenant, TemplateID: m.TemplateID, UserID: referrer, Source: coupon.FromReferral,
			Effect: MilestoneEffect(e.Tenant, referrer, m.Count), CauseEvent: e.ID, RuleID: MilestoneRule, Hold: hold,
		}))
	}
	return errors.Join(errs...)
}

// eligible reports whether the side to of a referral.qualified event may
// earn referral rewards: false when it was staff or admin as the referral
// qualified ("referrerEligible" or "refereeEligible" false on the event).
// An event that does not say names a side that was not staff.
func eligible(e event.Event, to Recipient) bool {
	var flag string
	switch to {
	case Referrer:
		flag = "referrerEligible"
	case Referee:
		flag = "refereeEligible"
	default:
		return true
	}
	ok, said := e.Data[flag].(bool)
	return ok || !said
}

// referralHold reads from a referral.qualified event what holds its
// rewards, and whether the referral may be rewarded at all. An event that
// does not say when to release holds for the default period.
func referralHold(e event.Event) (*coupon.Hold, bool) {
	rewardable, _ := e.Data["rewardable"].(bool)
	h := &coupon.Hold{Until: e.OccurredAt.Add(time.Duration(tenant.DefaultHoldDays) * 24 * time.Hour)}
	h.VisitID, _ = e.Data["visitId"].(string)
	h.RefereeID, _ = e.Data["refereeId"].(string)
	h.ReferrerID, _ = e.Data["referrerId"].(string)
	if s, ok := e.Data["releaseAt"].(string); ok {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			h.Until = t.UTC()
		}
	}
	return h, rewardable
}
