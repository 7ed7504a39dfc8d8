package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/groupbuy"
)

// duePage bounds one page of the expiry index, so a run that stops early
// (MaxRooms, deadline) has read little past where it stopped.
const duePage = 100

// ExpiryShards is how many partitions the Expiring index is spread over.
func (s GroupStore) ExpiryShards() int { return expiryShards }

// ExpiredRooms reads the due entries of one expiry shard: a Query of
// expShard = EXP#nn AND expAt <= now, oldest first. Only open rooms carry
// these attributes, and settling removes them, so it reads due rooms only.
// The index is eventually consistent: an entry may outlive its room's
// settlement by a moment, which SettleRoom's condition absorbs.
func (s GroupStore) ExpiredRooms(ctx context.Context, shard int, now time.Time, each func(groupID string) bool) (int, error) {
	q := query{
		index: expiringIndex,
		key: expression.Key("expShard").Equal(expression.Value(fmt.Sprintf("EXP#%02d", shard))).
			And(expression.Key("expAt").LessThanEqual(expression.Value(second(now)))),
		page: duePage,
	}
	read := 0
	for page, err := range s.queryPages(ctx, q) {
		if err != nil {
			return read, err
		}
		read += len(page)
		for _, item := range page {
			pk, ok := item["pk"].(*types.AttributeValueMemberS)
			if !ok {
				continue
			}
			id, ok := groupIDOf(pk.Value)
			if !ok {
				continue
			}
			if !each(id) {
				return read, nil
			}
		}
	}
	return read, nil
}

// SettleRoom ends an expired room in one transaction: the room, on the
// condition that it is still open, on the expiry index, expired and with
// the count the closer read (so two closers never both settle it, and a
// join that landed meanwhile is never left out of the settlement), leaves
// the index with its outcome; a failed room gives each shard back its
// seats and each member back one count of the per-user limit; and the
// event. Settling never touches the leader's open room: it lapsed at expiry.
func (s GroupStore) SettleRoom(ctx context.Context, st groupbuy.Settlement) (*groupbuy.Room, error) {
	r := st.Seen
	cond := expression.Name("status").Equal(expression.Value(string(groupbuy.Open))).
		And(expression.AttributeExists(expression.Name("expShard"))).
		And(expression.Name("joined").Equal(expression.Value(r.Joined))).
		And(expression.Name("expiresAt").LessThanEqual(expression.Value(second(st.Now))))
	upd := expression.Set(expression.Name("status"), expression.Value(string(st.Outcome))).
		Set(expression.Name("settledAt"), expression.Value(st.Now.UTC())).
		Remove(expression.Name("expShard")).
		Remove(expression.Name("expAt"))
	t := tx{parts: []part{{"room", s.update(key{PK: roomPK(r.GroupID), SK: skSelf}, upd, &cond)}}}
	if st.Outcome == groupbuy.Failed {
		for shard, seats := range r.SeatsByShard() {
			t.add("seats", s.update(key{PK: seatPK(r.Tenant, r.DealID, shard), SK: skSelf},
				expression.Add(expression.Name("taken"), expression.Value(-seats)), nil))
		}
		for _, m := range r.Members {
			t.add("use", s.update(dealUseKey(r.Tenant, m.UserID, r.DealID),
				expression.Add(expression.Name("count"), expression.Value(-1)), nil))
		}
	}
	ev, err := s.eventPut(st.Event)
	if err != nil {
		return nil, err
	}
	t.add("event", ev)
	cancelled, err := s.transact(ctx, t)
	if err != nil || cancelled == nil {
		return nil, err
	}
	held := cancelled.by("room")
	if !held.ConditionFailed() || len(held.Item) == 0 {
		return &groupbuy.Room{}, nil // nothing left to settle
	}
	return roomFrom(held.Item)
}
