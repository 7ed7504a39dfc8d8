package hotkeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/groupbuy"
)

// Which seat or stock shard a request writes is the domain's random
// choice (groupbuy.SeatShards, the coupon service's stock memory). A trace
// of a few hundred requests samples that choice too thinly to say what the
// busiest of up to 96 seat (64 stock) shards takes in a second of 20,000,
// so the one-second counts are drawn by the real services themselves:
// Open, Join and Claim run as many times as the second holds, over stores
// that read the real deal, room and template once and record the shard
// each write would take instead of writing.

// shardPicks counts writes per shard.
type shardPicks struct {
	mu sync.Mutex
	n  map[int]int
}

func (p *shardPicks) add(shard int) {
	p.mu.Lock()
	if p.n == nil {
		p.n = map[int]int{}
	}
	p.n[shard]++
	p.mu.Unlock()
}

// pickingGroupStore answers the group-buy service's reads with one deal and
// one room, and records the seat shard of every open and join.
type pickingGroupStore struct {
	groupbuy.Store // never called: a call to anything else panics
	deal           groupbuy.Deal
	room           groupbuy.Room
	picks          shardPicks
}

func (s *pickingGroupStore) Deal(context.Context, string, string) (*groupbuy.Deal, error) {
	d := s.deal
	return &d, nil
}

func (s *pickingGroupStore) Room(context.Context, string, bool) (*groupbuy.Room, error) {
	r := s.room
	r.Members = append([]groupbuy.Member(nil), s.room.Members...)
	return &r, nil
}

func (s *pickingGroupStore) OpenRoom(_ context.Context, o groupbuy.OpenRoom) (*groupbuy.OpenConflict, error) {
	s.picks.add(o.Room.Members[0].Shard)
	return nil, nil
}

func (s *pickingGroupStore) JoinRoom(_ context.Context, j groupbuy.JoinRoom) (*groupbuy.JoinConflict, error) {
	s.picks.add(j.Member.Shard)
	return nil, nil
}

// seatPicks runs opens and joins of one deal through the group-buy service
// and counts the seats they take per shard. room is an open room of the
// deal; every join is a new patient's.
func seatPicks(ctx context.Context, deal groupbuy.Deal, room groupbuy.Room, opens, joins int) (map[int]int, error) {
	store := &pickingGroupStore{deal: deal, room: room}
	svc := &groupbuy.Service{
		Store: store, Now: time.Now,
		Deals: groupbuy.NewDealCache(time.Minute), Seats: groupbuy.NewSeatShards(5 * time.Second),
	}
	for i := range opens {
		if _, err := svc.Open(ctx, simulated(deal.Tenant, "opener", i), deal.DealID); err != nil {
			return nil, fmt.Errorf("simulated open: %w", err)
		}
	}
	for i := range joins {
		if _, err := svc.Join(ctx, simulated(deal.Tenant, "joiner", i), room.GroupID); err != nil {
			return nil, fmt.Errorf("simulated join: %w", err)
		}
	}
	return store.picks.n, nil
}

// pickingCouponStore answers the coupon service's template reads with one
// template and records the stock shard of every issue.
type pickingCouponStore struct {
	coupon.Store // never called: a call to anything else panics
	template     coupon.Template
	picks        shardPicks
}

func (s *pickingCouponStore) Template(context.Context, string, string) (*coupon.Template, error) {
	t := s.template
	return &t, nil
}

func (s *pickingCouponStore) Issue(_ context.Context, in coupon.Issue) (*coupon.IssueConflict, error) {
	if in.Shard < 0 {
		return nil, errors.New("the template has unlimited stock: no shard is written")
	}
	s.picks.add(in.Shard)
	return nil, nil
}

// stockPicks runs claims of one template through the coupon service and
// counts the units they take per shard.
func stockPicks(ctx context.Context, t coupon.Template, claims int) (map[int]int, error) {
	store := &pickingCouponStore{template: t}
	svc := &coupon.Service{Store: store, Templates: coupon.NewTemplateCache(store, time.Minute), Now: time.Now}
	for i := range claims {
		if _, err := svc.Claim(ctx, simulated(t.Tenant, "claimer", i), t.ID); err != nil {
			return nil, fmt.Errorf("simulated claim: %w", err)
		}
	}
	return store.picks.n, nil
}

func simulated(tenant, who string, i int) auth.Caller {
	return auth.Caller{UserID: fmt.Sprintf("sim-%s-%d", who, i), Tenant: tenant, Role: auth.Patient, Name: "模拟"}
}
