package groupbuy

import (
	"math"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
)

// Expiry is kept to whole seconds: a room is open while now < expiresAt,
// the same to the second wherever it is checked (handler, store, closer).
func expiryOf(now time.Time, ttlSeconds int) time.Time {
	return now.UTC().Truncate(time.Second).Add(time.Duration(ttlSeconds) * time.Second)
}

// ExpiredAt reports whether the room's timer has run out at now.
func (r *Room) ExpiredAt(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// StatusAt is the status shown at now: an open room past its expiry is
// CLOSING until the closer settles it, never OPEN.
func (r *Room) StatusAt(now time.Time) Status {
	if r.Status == Open && r.ExpiredAt(now) {
		return Closing
	}
	return r.Status
}

// SecondsLeft is the whole seconds until expiry while the room is open, else 0.
func (r *Room) SecondsLeft(now time.Time) int {
	if r.StatusAt(now) != Open {
		return 0
	}
	return int(math.Ceil(r.ExpiresAt.Sub(now).Seconds()))
}

// HasMember reports whether userID is in the room.
func (r *Room) HasMember(userID string) bool {
	return r.Member(userID) != nil
}

// AddedIn says whether the user was added to the room by the request of
// idempotency scope req (never for a request without a key).
func (r *Room) AddedIn(userID, req string) bool {
	m := r.Member(userID)
	return req != "" && m != nil && m.Req == req
}

// Member returns the member userID, or nil.
func (r *Room) Member(userID string) *Member {
	for i := range r.Members {
		if r.Members[i].UserID == userID {
			return &r.Members[i]
		}
	}
	return nil
}

// Leader returns the room's leader, or nil for a malformed room.
func (r *Room) Leader() *Member { return r.Member(r.LeaderID) }

// Admits decides whether userID may join at now. The codes, in order: one
// already in answers ALREADY_MEMBER; a full room (which has always
// succeeded) answers GROUP_FULL; a room that expired, failed, or succeeded
// at expiry short of full answers GROUP_CLOSED. An expired room is closed
// at once, whether or not the closer has run.
func (r *Room) Admits(userID string, now time.Time) error {
	const op = apierr.Op("groupbuy.Join")
	switch {
	case r.HasMember(userID):
		return apierr.E(op, apierr.AlreadyMember, "you are already in this group")
	case r.Joined >= r.Size:
		return apierr.E(op, apierr.GroupFull, "this group is full")
	case r.Status != Open || r.ExpiredAt(now):
		return apierr.E(op, apierr.GroupClosed, "this group has closed")
	}
	return nil
}

// Outcome is how an expired room settles: SUCCEEDED with at least minSize
// members, else FAILED.
func (r *Room) Outcome() Status {
	if r.Joined >= r.MinSize {
		return Succeeded
	}
	return Failed
}

// SeatsByShard counts the members' seats per stock shard, for giving them
// back when the room fails.
func (r *Room) SeatsByShard() map[int]int {
	m := map[int]int{}
	for _, mem := range r.Members {
		m[mem.Shard]++
	}
	return m
}

// Event data. Events carry ids, never people's names; each member's price
// goes to the hooks that issue their voucher at it. The deal's title and the
// room's size, count and status are there for subscribe messages, which
// quote them without reading anything.

func openedEvent(r *Room, now time.Time) event.Event {
	return event.New(event.GroupOpened, r.Tenant, now, map[string]any{
		"groupId": r.GroupID, "dealId": r.DealID, "leaderId": r.LeaderID,
		"dealTitle": r.DealTitle, "size": r.Size, "joined": 1, "status": string(Open),
	})
}

// joinedEvent is group.joined for r as it was before userID joined.
func joinedEvent(r *Room, userID string, now time.Time) event.Event {
	status := Open
	if r.Joined+1 == r.Size {
		status = Succeeded
	}
	return event.New(event.GroupJoined, r.Tenant, now, map[string]any{
		"groupId": r.GroupID, "dealId": r.DealID, "userId": userID, "leaderId": r.LeaderID,
		"dealTitle": r.DealTitle, "size": r.Size, "joined": r.Joined + 1, "status": string(status),
	})
}

// settledEvent is group.succeeded or group.failed with every member of the
// room as settled: {groupId, dealId, dealTitle, voucherTemplateId, members:
// [{userId, priceFen, leader}], size, joined, status}.
func settledEvent(r *Room, outcome Status, now time.Time) event.Event {
	typ := event.GroupSucceeded
	if outcome == Failed {
		typ = event.GroupFailed
	}
	members := make([]any, 0, len(r.Members))
	for _, m := range r.Members {
		members = append(members, map[string]any{"userId": m.UserID, "priceFen": m.PriceFen, "leader": m.Leader})
	}
	return event.New(typ, r.Tenant, now, map[string]any{
		"groupId":           r.GroupID,
		"dealId":            r.DealID,
		"dealTitle":         r.DealTitle,
		"voucherTemplateId": r.VoucherTemplateID,
		"members":           members,
		"size":              r.Size,
		"joined":            r.Joined,
		"status":            string(outcome),
	})
}

// The ids in an event's data are read back as strings: the stream hands
// numbers and lists over as other Go types than they were written with,
// but strings as strings. A missing or malformed id reads as "".

// dealOf is the deal a group event is about.
func dealOf(e event.Event) string {
	id, _ := e.Data["dealId"].(string)
	return id
}

// JoinOf is the room and the joiner of a group.joined event.
func JoinOf(e event.Event) (groupID, userID string) {
	groupID, _ = e.Data["groupId"].(string)
	userID, _ = e.Data["userId"].(string)
	return groupID, userID
}
