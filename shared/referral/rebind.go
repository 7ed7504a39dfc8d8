package referral

import "context"

// Rebound is a referee whose binding, expired unqualified, was replaced by
// a binding to another referrer: the first referrer's friend entry is stale.
type Rebound struct {
	Tenant, RefereeID, FormerReferrerID string
}

// ReboundOf reads the replacement of a binding: ok when before, still
// BOUND, gave way to a binding to another referrer. The bind itself cannot
// tell (it does not read the binding it replaces); the stream can.
func ReboundOf(before, after Binding) (Rebound, bool) {
	if before.ReferrerID == "" || before.ReferrerID == after.ReferrerID || before.Stage != Bound {
		return Rebound{}, false
	}
	return Rebound{Tenant: before.Tenant, RefereeID: before.RefereeID, FormerReferrerID: before.ReferrerID}, true
}

// DropFormerFriend takes the referee off the former referrer's friends if
// the entry is still BOUND (it can be nothing else: a binding that
// qualified is never replaced). Repeating it changes nothing.
func (s *Service) DropFormerFriend(ctx context.Context, r Rebound) error {
	return s.Store.DropBoundFriend(ctx, r.Tenant, r.FormerReferrerID, r.RefereeID)
}

// QualifiedFriends counts the referrer's friends whose referral qualified
// (QUALIFIED or REWARDED), read consistently: what referral milestones
// are judged by.
func (s *Service) QualifiedFriends(ctx context.Context, tenant, referrerID string) (int, error) {
	stages, err := s.Store.FriendStages(ctx, tenant, referrerID)
	if err != nil {
		return 0, err
	}
	friends := make([]Friend, len(stages))
	for i, st := range stages {
		friends[i].Stage = st
	}
	return CountStages(friends).Qualified, nil
}
