package stream

import (
	"context"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/referral"
)

// GroupReactions are the group-buy's built-in reactions to single events,
// applied by the hooks function before the tenant's rules. Each is safe to
// repeat: the stream delivers at least once.
//
//   - group.joined binds a joiner with no referrer to the room's leader
//     (the referral channel), under the rules of a code bind.
//
// Seats taken (and so `remaining`) are counted per stream batch, not here
// (see hooksHandler.rollUp); vouchers on group.succeeded are the tenant's
// hook machinery's work, from the event's members.
func GroupReactions(d *app.Deps) map[event.Type]func(context.Context, event.Event) error {
	svc := d.Groups()
	refs := d.Referrals()
	return map[event.Type]func(context.Context, event.Event) error{
		event.GroupJoined: func(ctx context.Context, e event.Event) error {
			return bindJoinerToLeader(ctx, svc, refs, e)
		},
	}
}

// bindJoinerToLeader is the referral channel of a room. Events carry ids
// only, so the names (stored masked on the roster) come from the room.
func bindJoinerToLeader(ctx context.Context, svc *groupbuy.Service, refs *referral.Service, e event.Event) error {
	groupID, userID := groupbuy.JoinOf(e)
	if groupID == "" || userID == "" {
		return nil // not a join of ours; retrying will not help
	}
	r, err := svc.Room(ctx, groupID)
	if err != nil {
		return err
	}
	if r == nil || r.Tenant != e.Tenant {
		return nil
	}
	joiner, leader := r.Member(userID), r.Leader()
	if joiner == nil || leader == nil {
		return nil
	}
	_, err = refs.BindThroughGroup(ctx, referral.GroupJoin{
		Tenant:  r.Tenant,
		GroupID: r.GroupID,
		Joiner:  groupPerson(joiner),
		Leader:  groupPerson(leader),
		At:      e.OccurredAt,
	})
	return err
}

func groupPerson(m *groupbuy.Member) referral.GroupPerson {
	return referral.GroupPerson{UserID: m.UserID, Name: m.Name, Role: m.Role, PhoneHash: m.PhoneHash}
}
