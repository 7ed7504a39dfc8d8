package referral

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
)

// Channel names how a binding came about, in referral.bound's data.
const (
	ChannelCode  = "code"
	ChannelGroup = "group"
)

// GroupPerson is one side of a group-buy join as the referral channel sees
// it: the user, their masked name, role and phone hash.
type GroupPerson struct {
	UserID    string
	Name      string // masked
	Role      auth.Role
	PhoneHash string
}

// GroupJoin is a join of a group-buy room: the joiner may be bound to the
// room's leader as if through the leader's referral code.
type GroupJoin struct {
	Tenant  string
	GroupID string
	Joiner  GroupPerson
	Leader  GroupPerson
	At      time.Time
}

// BindThroughGroup binds a joiner who has no referrer to the room's leader,
// under the rules of a code bind: staff on either side, the same person,
// a joiner with a recorded visit, a loop or a binding still in its window
// all mean no binding, quietly, since the join itself succeeded. It reports
// whether this call made the binding; referral.bound is written with it. A
// repeat (the stream delivers at least once) finds the binding and does
// nothing.
func (s *Service) BindThroughGroup(ctx context.Context, j GroupJoin) (bound bool, err error) {
	const op = apierr.Op("referral.BindThroughGroup")
	switch {
	case j.Joiner.UserID == "" || j.Leader.UserID == "":
		return false, nil
	case j.Joiner.Role == auth.Staff || j.Joiner.Role == auth.Admin:
		return false, nil
	case j.Leader.Role == auth.Staff || j.Leader.Role == auth.Admin:
		return false, nil
	case j.Joiner.UserID == j.Leader.UserID:
		return false, nil
	case j.Joiner.PhoneHash != "" && j.Joiner.PhoneHash == j.Leader.PhoneHash:
		return false, nil
	}
	settings, err := s.Settings.Get(ctx, j.Tenant)
	if err != nil {
		return false, apierr.E(op, err)
	}
	b := Binding{
		Tenant:       j.Tenant,
		RefereeID:    j.Joiner.UserID,
		ReferrerID:   j.Leader.UserID,
		ReferrerName: j.Leader.Name,
		RefereeName:  j.Joiner.Name,
		Stage:        Bound,
		BoundAt:      j.At.UTC(),
		// As through a code: a binding that outlived its window unqualified
		// gives way. Measured from the join, so a redelivered event decides
		// the same.
		ReplaceBoundBefore: j.At.UTC().Add(-settings.BindingWindow()),
	}
	e := event.New(event.ReferralBound, b.Tenant, b.BoundAt, map[string]any{
		"referrerId": b.ReferrerID, "refereeId": b.RefereeID, "code": "", "channel": ChannelGroup, "groupId": j.GroupID,
	})
	conflict, err := s.Store.Bind(ctx, b, e)
	if apierr.Is(apierr.Forbidden, err) || apierr.Is(apierr.CodeNotFound, err) {
		return false, nil // a side was erased since the join (mydata): no binding
	}
	if err != nil {
		return false, apierr.E(op, err)
	}
	return conflict == nil, nil
}
