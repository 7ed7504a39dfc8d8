package groupbuy

import (
	"context"
	"errors"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/idempotency"
	"github.com/laoyou/laoyou/shared/privacy"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/tenant"
)

// Service applies the group-buy rules over a Store.
type Service struct {
	Store  Store
	Links  share.Links
	Pepper []byte // for phone hashes, as in referral
	Now    func() time.Time
	// Settings is the clinics' settings cache: a room's page shows its
	// clinic's profile.
	Settings *tenant.Cache
	Deals    *DealCache
	Seats    *SeatShards
}

// SaveDeal creates or replaces a deal. Seat stock is re-split over the
// deal's shards from the seats each has handed out, so a cut in stock never
// lets more seats out than the new stock (see AllotSeats). The voucher
// template it names must exist: it is read with the deal, so the save
// stays one read and one write.
func (s *Service) SaveDeal(ctx context.Context, tenant, dealID string, spec DealSpec) (Deal, error) {
	const op = apierr.Op("groupbuy.SaveDeal")
	if !auth.ValidID(dealID) {
		return Deal{}, auth.InvalidID("dealId")
	}
	if err := spec.Valid(); err != nil {
		return Deal{}, err
	}
	for attempt := 0; ; attempt++ {
		snap, err := s.Store.DealWithSeats(ctx, tenant, dealID, spec.VoucherTemplateID)
		if err != nil {
			return Deal{}, apierr.E(op, err)
		}
		if spec.VoucherTemplateID != "" && !snap.VoucherTemplateExists {
			return Deal{}, apierr.E(op, apierr.TemplateNotFound, `field "voucherTemplateId" names no coupon template of this clinic`)
		}
		prev, taken := snap.Deal, snap.Taken
		d := spec.Deal(tenant, dealID, s.Now())
		d.Shards = ShardsFor(d.Stock)
		prevVersion := 0
		if prev != nil {
			d.Shards = max(d.Shards, prev.Shards) // seats may sit on any shard ever used
			d.SeatsTaken = SeatsHeld(taken)       // the shards' own count, not the roll-up, answers the admin
			prevVersion = prev.Version
		}
		d.Version = prevVersion + 1
		caps := AllotSeats(d.Stock, taken[:d.Shards])
		if err := idempotency.Prepare(ctx, d); err != nil {
			return Deal{}, apierr.E(op, err)
		}
		ok, err := s.Store.SaveDeal(ctx, d, prevVersion, caps, taken[:d.Shards])
		switch {
		case err != nil:
			return Deal{}, apierr.E(op, err)
		case !ok && attempt < 3:
			continue // another replace or a seat taken meanwhile: redo from what is there now
		case !ok:
			return Deal{}, apierr.E(op, apierr.RequestInProgress, "the deal is being changed by another request")
		}
		s.Deals.Forget(dealKey(tenant, dealID))
		s.Seats.Forget(dealKey(tenant, dealID))
		return d, nil
	}
}

// Deal returns a deal of tenant, from the cache where fresh.
func (s *Service) Deal(ctx context.Context, tenant, dealID string) (Deal, error) {
	const op = apierr.Op("groupbuy.Deal")
	if !auth.ValidID(tenant) || !auth.ValidID(dealID) {
		return Deal{}, apierr.E(op, apierr.DealNotFound, "no such deal")
	}
	now := s.Now()
	if d, ok := s.Deals.Get(dealKey(tenant, dealID), now); ok {
		return d, nil
	}
	d, err := s.Store.Deal(ctx, tenant, dealID)
	if err != nil {
		return Deal{}, apierr.E(op, err)
	}
	if d == nil {
		return Deal{}, apierr.E(op, apierr.DealNotFound, "no such deal")
	}
	s.Deals.Put(dealKey(tenant, dealID), *d, now)
	return *d, nil
}

// ActiveDeals lists the tenant's deals open for new rooms now.
func (s *Service) ActiveDeals(ctx context.Context, tenant string) ([]Deal, error) {
	const op = apierr.Op("groupbuy.ActiveDeals")
	all, err := s.Store.Deals(ctx, tenant)
	if err != nil {
		return nil, apierr.E(op, err)
	}
	now := s.Now()
	active := make([]Deal, 0, len(all))
	for _, d := range all {
		if d.ActiveAt(now) {
			active = append(active, d)
		}
	}
	return active, nil
}

// Opened is the answer to opening a room.
type Opened struct {
	GroupID   string
	DealID    string
	Status    Status
	Size      int
	Joined    int
	ExpiresAt time.Time
	Link      share.Link
}

// Open opens a room of the deal with the caller as leader and first member.
// One write: the room, the leader's seat from a stock shard, the leader's
// per-user standing (no other open room of theirs for this deal, fewer
// than perUserLimit rooms that did not fail) and group.opened.
func (s *Service) Open(ctx context.Context, caller auth.Caller, dealID string) (Opened, error) {
	const op = apierr.Op("groupbuy.Open")
	d, err := s.Deal(ctx, caller.Tenant, dealID)
	if err != nil {
		return Opened{}, apierr.E(op, err)
	}
	now := s.Now()
	if !d.ActiveAt(now) {
		return Opened{}, apierr.E(op, apierr.DealNotActive, "this deal is not open for new groups now")
	}
	if d.Stock == 0 {
		return Opened{}, soldOut(op)
	}
	leader := s.member(ctx, caller, true, d.LeaderPrice(), now)
	for attempt := 0; attempt < d.Shards+4; attempt++ {
		shard, ok := s.Seats.Pick(dealKey(d.Tenant, d.DealID), d.Shards, now)
		if !ok {
			return Opened{}, soldOut(op)
		}
		leader.Shard = shard
		r := newRoom(&d, share.NewCode(share.GroupIDLen), leader, now)
		opened := s.opened(&r)
		if err := idempotency.Prepare(ctx, opened); err != nil {
			return Opened{}, apierr.E(op, err)
		}
		c, err := s.Store.OpenRoom(ctx, OpenRoom{Room: r, Limit: d.PerUserLimit, Now: now, Event: openedEvent(&r, now)})
		switch {
		case err != nil:
			return Opened{}, apierr.E(op, err)
		case c == nil:
			return opened, nil
		case c.Holding != nil:
			held, err := s.openedIn(ctx, c.Holding.OpenRoom, caller.UserID, leader.Req)
			if err != nil {
				return Opened{}, apierr.E(op, err)
			}
			if held != nil {
				done := s.opened(held)
				if err := idempotency.Again(ctx, s.Store, done); err != nil {
					return Opened{}, apierr.E(op, err)
				}
				return done, nil
			}
			if c.Holding.OpenRoom != "" && now.Before(c.Holding.OpenUntil) {
				return Opened{}, apierr.E(op, apierr.LimitReached, "you already have an open group for this deal")
			}
			return Opened{}, apierr.E(op, apierr.LimitReached, "you have reached this deal's limit per person")
		case c.ShardEmpty:
			s.Seats.Empty(dealKey(d.Tenant, d.DealID), shard, now)
		case c.RoomExists:
			// 59 random bits: a clash is rare; try another id.
		}
	}
	return Opened{}, apierr.E(op, apierr.Unavailable, "the deal is busy; try again")
}

// Joined is the answer to joining a room.
type Joined struct {
	GroupID string
	Status  Status
	Joined  int
	Size    int
}

// Join adds the caller to a room. One read (the room with its roster,
// strongly consistent, so the decision starts from its latest state) and
// one write: the room's count and roster under the condition that it is
// open, unexpired and not full, the member, a seat from a stock shard, the
// caller's per-user standing, for a newcomers-only deal the caller's lack
// of a recorded visit, and group.joined. The join that takes the last seat
// turns the room SUCCEEDED and writes group.succeeded in the same write.
//
// A refused write reports the room as it then was; a join that another
// join overtook is retried on that room (as the filling join if it now
// takes the last seat), and an empty shard is retried on another: those
// are the only extra calls.
func (s *Service) Join(ctx context.Context, caller auth.Caller, groupID string) (Joined, error) {
	const op = apierr.Op("groupbuy.Join")
	r, err := s.room(ctx, op, caller.Tenant, groupID, true)
	if err != nil {
		return Joined{}, err
	}
	now := s.Now()
	dk := dealKey(r.Tenant, r.DealID)
	shards := r.Shards
	if d, ok := s.Deals.Get(dk, now); ok {
		shards = max(shards, d.Shards) // the deal may have grown shards since the room opened
	}
	me := s.member(ctx, caller, false, r.GroupPriceFen, now)
	for attempt := 0; attempt < shards+r.Size+4; attempt++ {
		if r.AddedIn(caller.UserID, me.Req) {
			return s.joinedBefore(ctx, op, r)
		}
		if err := r.Admits(caller.UserID, now); err != nil {
			return Joined{}, err
		}
		shard, ok := s.Seats.Pick(dk, shards, now)
		if !ok {
			return Joined{}, soldOut(op)
		}
		me.Shard = shard
		write, joined := joinWrite(r, me, caller.UserID, now)
		if err := idempotency.Prepare(ctx, joined); err != nil {
			return Joined{}, apierr.E(op, err)
		}
		c, err := s.Store.JoinRoom(ctx, write)
		switch {
		case err != nil:
			return Joined{}, apierr.E(op, err)
		case c == nil:
			return joined, nil
		case c.AlreadyMember:
			return Joined{}, apierr.E(op, apierr.AlreadyMember, "you are already in this group")
		}
		// Every failed condition is reported: the room's state first (it
		// decides between full, closed and a retry), then the caller's own.
		if c.Room != nil {
			r = c.Room
			if err := r.Admits(caller.UserID, now); err != nil {
				return Joined{}, err
			}
		}
		switch {
		case c.ExistingPatient:
			return Joined{}, apierr.E(op, apierr.NotANewPatient, "this deal is for new patients only")
		case c.LimitReached:
			return Joined{}, apierr.E(op, apierr.LimitReached, "you have reached this deal's limit per person")
		case c.ShardEmpty:
			s.Seats.Empty(dk, shard, now)
		case c.Room == nil:
			return Joined{}, apierr.E(op, apierr.Internal, "join refused for no known reason")
		}
		// The room moved on (another join landed): try again as it is now.
	}
	return Joined{}, apierr.E(op, apierr.Unavailable, "the group is busy; try again")
}

// joinedBefore answers a request whose own earlier join landed but whose
// reply was lost.
func (s *Service) joinedBefore(ctx context.Context, op apierr.Op, r *Room) (Joined, error) {
	done := Joined{GroupID: r.GroupID, Status: r.Status, Joined: r.Joined, Size: r.Size}
	if err := idempotency.Again(ctx, s.Store, done); err != nil {
		return Joined{}, apierr.E(op, err)
	}
	return done, nil
}

// joinWrite is the write that adds me to the room as read, and the reply
// it earns: the join that takes the last seat also settles the room.
func joinWrite(r *Room, me Member, userID string, now time.Time) (JoinRoom, Joined) {
	fills := r.Joined == r.Size-1
	events := []event.Event{joinedEvent(r, userID, now)}
	joined := Joined{GroupID: r.GroupID, Status: Open, Joined: r.Joined + 1, Size: r.Size}
	if fills {
		full := *r
		full.Members = append(append([]Member(nil), r.Members...), me)
		full.Joined++
		events = append(events, settledEvent(&full, Succeeded, now))
		joined.Status = Succeeded
	}
	return JoinRoom{Seen: *r, Member: me, Fills: fills, Now: now, Events: events}, joined
}

// RoomPage is a room as its share link shows it, with the profile of the
// clinic where it is redeemed (nil until the clinic sets one).
type RoomPage struct {
	Room   Room
	Clinic *tenant.Clinic
}

// Status shows a room to anyone. It reads the room, and the clinic's
// settings from the cache. When the cache is cold they are read too: after
// the room, which names its tenant, unless the page asking names its clinic
// (asking, "" for none), whose settings then come in the same call; another
// clinic's room is then not found.
func (s *Service) Status(ctx context.Context, groupID, asking string) (RoomPage, error) {
	const op = apierr.Op("groupbuy.Status")
	if asking != "" {
		return s.pageIn(ctx, op, groupID, asking)
	}
	r, err := s.room(ctx, op, "", groupID, false)
	if err != nil {
		return RoomPage{}, err
	}
	st, err := s.Settings.Get(ctx, r.Tenant)
	if err != nil {
		return RoomPage{}, apierr.E(op, err)
	}
	return RoomPage{Room: *r, Clinic: st.Clinic}, nil
}

// pageIn is Status for a page of clinic t, with t's settings read in the
// same call as the room when they are not cached.
func (s *Service) pageIn(ctx context.Context, op apierr.Op, groupID, t string) (RoomPage, error) {
	id, ok := share.Normalize(groupID, share.GroupIDLen)
	if !ok {
		return RoomPage{}, groupNotFound(op)
	}
	var r *Room
	st, err := s.Settings.GetWith(t,
		func() (err error) { r, err = s.Store.Room(ctx, id, false); return err },
		func() (st *tenant.Settings, err error) {
			r, st, err = s.Store.RoomWithSettings(ctx, id, t)
			return st, err
		})
	if err != nil {
		return RoomPage{}, apierr.E(op, err)
	}
	if r == nil || r.Tenant != t {
		return RoomPage{}, groupNotFound(op)
	}
	return RoomPage{Room: *r, Clinic: st.Clinic}, nil
}

// Room returns a room read fresh, for reactions to its events; nil if it
// does not exist.
func (s *Service) Room(ctx context.Context, groupID string) (*Room, error) {
	return s.Store.Room(ctx, groupID, true)
}

// RoomShown is a room as a public page reads it (not strongly consistent):
// asking is the clinic of the page, "" for any; another clinic's room is
// GROUP_NOT_FOUND.
func (s *Service) RoomShown(ctx context.Context, groupID, asking string) (*Room, error) {
	return s.room(ctx, apierr.Op("groupbuy.RoomShown"), asking, groupID, false)
}

// room reads a room; tenant "" is any tenant (the public status page, room
// ids are unique across tenants), else another tenant's room is not found.
func (s *Service) room(ctx context.Context, op apierr.Op, tenant, groupID string, fresh bool) (*Room, error) {
	id, ok := share.Normalize(groupID, share.GroupIDLen)
	if !ok {
		return nil, groupNotFound(op)
	}
	r, err := s.Store.Room(ctx, id, fresh)
	if err != nil {
		return nil, apierr.E(op, err)
	}
	if r == nil || (tenant != "" && r.Tenant != tenant) {
		return nil, groupNotFound(op)
	}
	return r, nil
}

// opened is the answer for a room the caller opened.
func (s *Service) opened(r *Room) Opened {
	return Opened{
		GroupID: r.GroupID, DealID: r.DealID, Status: r.Status, Size: r.Size, Joined: r.Joined,
		ExpiresAt: r.ExpiresAt, Link: s.Links.Group(r.Tenant, r.GroupID),
	}
}

// openedIn returns the room groupID if the caller opened it in the request
// of idempotency scope req (its reply lost, this is the retry), else nil.
func (s *Service) openedIn(ctx context.Context, groupID, userID, req string) (*Room, error) {
	if groupID == "" || req == "" {
		return nil, nil
	}
	r, err := s.Store.Room(ctx, groupID, true)
	if err != nil || r == nil || !r.AddedIn(userID, req) {
		return nil, err
	}
	return r, nil
}

// member is the caller as a room member, added by the request of ctx.
func (s *Service) member(ctx context.Context, caller auth.Caller, leader bool, price int64, now time.Time) Member {
	return Member{
		Req:       idempotency.ScopeOf(ctx),
		UserID:    caller.UserID,
		Name:      privacy.MaskName(caller.Name),
		Role:      caller.Role,
		PhoneHash: privacy.PhoneHash(s.Pepper, caller.PhoneNumber),
		Leader:    leader,
		PriceFen:  price,
		JoinedAt:  now.UTC(),
	}
}

func newRoom(d *Deal, groupID string, leader Member, now time.Time) Room {
	return Room{
		GroupID:           groupID,
		Tenant:            d.Tenant,
		DealID:            d.DealID,
		LeaderID:          leader.UserID,
		Size:              d.GroupSize,
		MinSize:           d.MinSize,
		Joined:            1,
		Status:            Open,
		OpenedAt:          now.UTC(),
		ExpiresAt:         expiryOf(now, d.TTLSeconds),
		Members:           []Member{leader},
		DealTitle:         d.Title,
		VoucherTemplateID: d.VoucherTemplateID,
		GroupPriceFen:     d.GroupPriceFen,
		LeaderPriceFen:    d.LeaderPrice(),
		PerUserLimit:      d.PerUserLimit,
		NewcomersOnly:     d.NewcomersOnly,
		Shards:            d.Shards,
	}
}

func groupNotFound(op apierr.Op) error {
	return apierr.E(op, apierr.GroupNotFound, "no such group")
}

func soldOut(op apierr.Op) error {
	return apierr.E(op, apierr.SoldOut, "this deal has no seats left")
}

// CountsSeats says whether events of type t change a deal's seats taken.
func CountsSeats(t event.Type) bool {
	return t == event.GroupOpened || t == event.GroupJoined || t == event.GroupFailed
}

// RefreshRemaining brings the seats taken (and so `remaining`) of the deals
// that evs changed up to date, evs having been received at since: one
// refresh per deal however many of its events there are.
func (s *Service) RefreshRemaining(ctx context.Context, since time.Time, evs ...event.Event) error {
	type deal struct{ tenant, id string }
	seen := map[deal]bool{}
	var errs []error
	for _, e := range evs {
		if !CountsSeats(e.Type) {
			continue
		}
		id := dealOf(e)
		if id == "" {
			continue // not an event of ours; retrying will not help
		}
		d := deal{e.Tenant, id}
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := s.Store.RefreshSeats(ctx, d.tenant, d.id, since); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
