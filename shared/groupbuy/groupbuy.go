// Package groupbuy is the group-buy (拼团, e.g. a two-person 闺蜜卡): deals an
// admin sets up, rooms a patient opens and shares, friends joining before
// the timer runs out, and the settlement of rooms at expiry. It holds the
// rules (what a deal may say, when a room admits a joiner, how a room ends,
// that a member's name is kept masked); how rooms and seats are stored is
// the Store's business, and how they are shown is the API's.
package groupbuy

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/idempotency"
	"github.com/laoyou/laoyou/shared/tenant"
)

// Status is where a room is in its life.
type Status string

const (
	Open      Status = "OPEN"      // taking joiners until it fills or expires
	Closing   Status = "CLOSING"   // shown only: expired, not yet settled by the closer
	Succeeded Status = "SUCCEEDED" // filled, or at least minSize at expiry
	Failed    Status = "FAILED"    // fewer than minSize at expiry; seats went back
)

// Deal is a group-buy offer of one tenant: a service at a group price for
// rooms of GroupSize, with Stock seats in all.
type Deal struct {
	Tenant            string
	DealID            string
	Title             string
	SKU               string
	PriceFen          int64
	GroupPriceFen     int64
	LeaderPriceFen    *int64 // the leader's price where it differs
	GroupSize         int
	MinSize           int
	TTLSeconds        int
	Stock             int
	PerUserLimit      int
	NewcomersOnly     bool
	StartsAt          *time.Time
	EndsAt            *time.Time
	VoucherTemplateID string
	UpdatedAt         time.Time

	// Kept by the system.
	Shards     int // seat stock is split over this many keys; never shrinks
	SeatsTaken int // seats held by rooms, rolled up from the shards after each stream batch (seconds behind)
	Version    int // guards the admin's replace against a concurrent one
}

// Member is one person in a room. Name is stored masked; PhoneHash is the
// HMAC of their phone, kept for the referral channel's self-referral rule.
type Member struct {
	UserID    string
	Name      string // masked
	Role      auth.Role
	PhoneHash string
	Leader    bool
	PriceFen  int64
	Shard     int // the seat stock shard this member's seat came from
	JoinedAt  time.Time
	Req       string // the idempotency scope of the request that added them; "" without a key
}

// Room is one group: its leader and members, and the deal's terms as they
// were when it opened, so a join needs no deal read.
type Room struct {
	GroupID   string
	Tenant    string
	DealID    string
	LeaderID  string
	Size      int
	MinSize   int
	Joined    int
	Status    Status // Open, Succeeded or Failed as stored
	OpenedAt  time.Time
	ExpiresAt time.Time
	SettledAt *time.Time
	Members   []Member

	DealTitle         string
	VoucherTemplateID string
	GroupPriceFen     int64
	LeaderPriceFen    int64
	PerUserLimit      int
	NewcomersOnly     bool
	Shards            int
}

// UserDeal is one user's standing with one deal: how many of its rooms they
// are in that did not fail, and the room they lead while it is open.
type UserDeal struct {
	Count     int
	OpenRoom  string
	OpenUntil time.Time
}

// OpenRoom is what opening a room writes in one transaction.
type OpenRoom struct {
	Room  Room // with its leader as the only member
	Limit int  // the deal's perUserLimit
	Now   time.Time
	Event event.Event // group.opened
}

// OpenConflict says which of an opening's conditions failed.
type OpenConflict struct {
	RoomExists bool      // the random room id is taken
	ShardEmpty bool      // the chosen seat shard has no seat left
	Holding    *UserDeal // the leader's open room or count forbids another
}

// JoinRoom is what a join writes in one transaction. Seen is the room as
// read; Fills says whether this join takes the last seat, which decides the
// condition on the room (joined < size-1, or joined = size-1 and the room
// turns SUCCEEDED in the same write).
type JoinRoom struct {
	Seen   Room
	Member Member
	Fills  bool
	Now    time.Time
	Events []event.Event // group.joined, and group.succeeded when it fills
}

// JoinConflict says which of a join's conditions failed. Room is the room as
// it was when the transaction was refused, when the room's condition failed.
type JoinConflict struct {
	Room            *Room
	AlreadyMember   bool
	ShardEmpty      bool
	LimitReached    bool
	ExistingPatient bool
}

// Settlement ends an expired room: Outcome Succeeded or Failed. A failed
// room gives each member's seat back to its shard and each member's count
// back to the per-user limit.
type Settlement struct {
	Seen    Room
	Outcome Status
	Now     time.Time
	Event   event.Event
}

// DealSnapshot is what a deal's save reads before it writes.
type DealSnapshot struct {
	Deal  *Deal // nil: a new deal
	Taken []int // seats handed out, by shard
	// VoucherTemplateExists: the voucher template the save names is a
	// template of the tenant.
	VoucherTemplateExists bool
}

// Store keeps deals, seat stock and rooms. Every write is one conditional
// call; a refused write reports why and changes nothing.
type Store interface {
	idempotency.Recorder
	// Deal returns the deal, or nil.
	Deal(ctx context.Context, tenant, dealID string) (*Deal, error)
	// Deals returns all of a tenant's deals.
	Deals(ctx context.Context, tenant string) ([]Deal, error)
	// DealWithSeats returns the deal (or nil), the seats taken on each of
	// MaxSeatShards shards and whether the voucher template named (if any)
	// exists, in one read.
	DealWithSeats(ctx context.Context, tenant, dealID, voucherTemplateID string) (DealSnapshot, error)
	// SaveDeal writes d and the seat caps of its shards, unless another
	// replace changed the deal since prevVersion (then ok is false).
	//
	// Each shard's new cap is written only if the shard has handed out no
	// more seats than max(cap, seen), seen being its taken count as read:
	// seats taken meanwhile on a shard whose cap went down cancel the save
	// (ok false) rather than leave the shard over its cap.
	SaveDeal(ctx context.Context, d Deal, prevVersion int, caps, seen []int) (ok bool, err error)

	// Room returns the room, or nil. fresh asks for a strongly consistent read.
	Room(ctx context.Context, groupID string, fresh bool) (*Room, error)
	// RoomWithSettings is Room, not fresh, with the settings of tenant (nil
	// if it has none) in the same read.
	RoomWithSettings(ctx context.Context, groupID, tenant string) (*Room, *tenant.Settings, error)
	// OpenRoom stores a new room, its leader's seat and limit and the event.
	OpenRoom(ctx context.Context, o OpenRoom) (*OpenConflict, error)
	// JoinRoom adds a member with their seat, limit and events.
	JoinRoom(ctx context.Context, j JoinRoom) (*JoinConflict, error)

	// ExpiryShards is how many partitions the expiry index is spread over.
	ExpiryShards() int
	// ExpiredRooms calls each with the id of every open room on the expiry
	// shard whose expiry is not after now, oldest first, until each returns
	// false. It reports how many index entries it read.
	ExpiredRooms(ctx context.Context, shard int, now time.Time, each func(groupID string) bool) (read int, err error)
	// SettleRoom settles s.Seen if it is still open, unsettled and as seen
	// (refused is nil); otherwise it changes nothing and returns the room as
	// it is now (an empty Room if it is gone).
	SettleRoom(ctx context.Context, s Settlement) (refused *Room, err error)

	// RefreshSeats sets the deal's SeatsTaken to what its shards hold, from
	// a reading taken after since, unless the stored one was taken at or
	// after since or a later reading is stored already.
	RefreshSeats(ctx context.Context, tenant, dealID string, since time.Time) error
}
