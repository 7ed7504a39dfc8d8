package groupbuy

import (
	"time"
	"unicode/utf8"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
)

// Limits of a deal. A room's settlement writes one item per member in one
// transaction (at most 100 items), so rooms stay small; a room is a group
// of friends, not a crowd.
const (
	MinGroupSize = 2
	MaxGroupSize = 20
	MinTTL       = 60 * time.Second
	MaxTTL       = 7 * 24 * time.Hour
	MaxStock     = 1_000_000
	MaxPerUser   = 1_000
	MaxPriceFen  = 100_000_000 // ¥1,000,000
	maxTitle     = 100
	maxSKU       = 64
)

// Seat stock is split over keys so that a spike on one deal never makes one
// key hot: DynamoDB takes at most 1,000 write units a second on a key, and a
// transaction writes each item twice, so a shard takes about 500 seats/s.
// 20,000 joins/s on rooms of two are 40,000 seats/s (each join comes with
// its room's open): MaxSeatShards shards take them at about 420 a shard,
// so the busiest, which runs above the mean, stays under the limit. It is
// also as many as a deal's save can write with the deal in one transaction
// (100 items) and read back in one TransactGetItems. Small deals keep few
// shards: near sell-out every empty shard costs a refused write before it
// is known empty.
const (
	SeatsPerShard = 50
	MaxSeatShards = 96
)

// ShardsFor is how many seat shards a deal of stock seats uses.
func ShardsFor(stock int) int {
	n := (stock + SeatsPerShard - 1) / SeatsPerShard
	return max(1, min(n, MaxSeatShards))
}

// SeatsHeld is what the shards have handed out between them, given each
// shard's taken count: the truth `remaining` is rolled up from.
func SeatsHeld(taken []int) int {
	n := 0
	for _, t := range taken {
		n += t
	}
	return n
}

// AllotSeats splits stock over len(taken) shards, given the seats each shard
// has handed out: the caps always sum to stock, so however stale taken is,
// the seats ever held at once never exceed stock (or what was already held
// when stock is cut below it). Each shard keeps what it handed out, within
// stock, and the rest is spread evenly.
func AllotSeats(stock int, taken []int) []int {
	caps := make([]int, len(taken))
	left := stock
	for i, t := range taken {
		caps[i] = min(max(t, 0), left)
		left -= caps[i]
	}
	for i := range caps {
		share := left / (len(caps) - i)
		caps[i] += share
		left -= share
	}
	return caps
}

// DealSpec is a deal as an admin writes it (PUT /v1/admin/deals/{dealId};
// Valid names the body's fields). Required numbers are pointers so that a
// missing one is told apart from 0.
type DealSpec struct {
	Title             string
	SKU               string
	PriceFen          *int64
	GroupPriceFen     *int64
	LeaderPriceFen    *int64
	GroupSize         *int
	MinSize           *int
	TTLSeconds        *int
	Stock             *int
	PerUserLimit      *int
	NewcomersOnly     *bool
	StartsAt          *time.Time
	EndsAt            *time.Time
	VoucherTemplateID string
}

// Valid checks every field, naming the first one that is wrong.
//
// Choices: minSize is at least 2, because a room of the leader alone is not
// a group; stock 0 is allowed and means no seats (the deal shows sold out),
// never unlimited, because every seat is a service the clinic must deliver.
func (s *DealSpec) Valid() error {
	switch {
	case s.Title == "":
		return apierr.Missing("title")
	case utf8.RuneCountInString(s.Title) > maxTitle:
		return apierr.Invalid("title", "must be at most 100 characters")
	case s.SKU == "":
		return apierr.Missing("sku")
	case utf8.RuneCountInString(s.SKU) > maxSKU:
		return apierr.Invalid("sku", "must be at most 64 characters")
	case s.PriceFen == nil:
		return apierr.Missing("priceFen")
	case *s.PriceFen < 0 || *s.PriceFen > MaxPriceFen:
		return apierr.Invalid("priceFen", "must be 0 to 100000000 fen")
	case s.GroupPriceFen == nil:
		return apierr.Missing("groupPriceFen")
	case *s.GroupPriceFen < 0 || *s.GroupPriceFen > *s.PriceFen:
		return apierr.Invalid("groupPriceFen", "must be 0 to priceFen")
	case s.LeaderPriceFen != nil && (*s.LeaderPriceFen < 0 || *s.LeaderPriceFen > *s.PriceFen):
		return apierr.Invalid("leaderPriceFen", "must be 0 to priceFen")
	case s.GroupSize == nil:
		return apierr.Missing("groupSize")
	case *s.GroupSize < MinGroupSize || *s.GroupSize > MaxGroupSize:
		return apierr.Invalid("groupSize", "must be 2 to 20")
	case s.MinSize != nil && (*s.MinSize < MinGroupSize || *s.MinSize > *s.GroupSize):
		return apierr.Invalid("minSize", "must be 2 to groupSize")
	case s.TTLSeconds == nil:
		return apierr.Missing("ttlSeconds")
	case *s.TTLSeconds < int(MinTTL/time.Second) || *s.TTLSeconds > int(MaxTTL/time.Second):
		return apierr.Invalid("ttlSeconds", "must be 60 to 604800 (7 days)")
	case s.Stock == nil:
		return apierr.Missing("stock")
	case *s.Stock < 0 || *s.Stock > MaxStock:
		return apierr.Invalid("stock", "must be 0 to 1000000 seats")
	case s.PerUserLimit == nil:
		return apierr.Missing("perUserLimit")
	case *s.PerUserLimit < 1 || *s.PerUserLimit > MaxPerUser:
		return apierr.Invalid("perUserLimit", "must be 1 to 1000")
	case s.NewcomersOnly == nil:
		return apierr.Missing("newcomersOnly")
	case s.StartsAt != nil && s.EndsAt != nil && !s.StartsAt.Before(*s.EndsAt):
		return apierr.Invalid("endsAt", "must be after startsAt")
	case s.VoucherTemplateID != "" && !auth.ValidID(s.VoucherTemplateID):
		return auth.InvalidID("voucherTemplateId")
	}
	return nil
}

// Deal is the spec as a deal of tenant, with defaults applied. It assumes
// Valid passed.
func (s *DealSpec) Deal(tenant, dealID string, now time.Time) Deal {
	d := Deal{
		Tenant:            tenant,
		DealID:            dealID,
		Title:             s.Title,
		SKU:               s.SKU,
		PriceFen:          *s.PriceFen,
		GroupPriceFen:     *s.GroupPriceFen,
		LeaderPriceFen:    s.LeaderPriceFen,
		GroupSize:         *s.GroupSize,
		MinSize:           *s.GroupSize,
		TTLSeconds:        *s.TTLSeconds,
		Stock:             *s.Stock,
		PerUserLimit:      *s.PerUserLimit,
		NewcomersOnly:     *s.NewcomersOnly,
		VoucherTemplateID: s.VoucherTemplateID,
		UpdatedAt:         now.UTC(),
	}
	if s.MinSize != nil {
		d.MinSize = *s.MinSize
	}
	if s.StartsAt != nil {
		t := s.StartsAt.UTC()
		d.StartsAt = &t
	}
	if s.EndsAt != nil {
		t := s.EndsAt.UTC()
		d.EndsAt = &t
	}
	return d
}

// ActiveAt reports whether rooms may open at now: startsAt <= now < endsAt.
// A room already open runs to its own expiry whatever the deal's window.
func (d *Deal) ActiveAt(now time.Time) bool {
	return (d.StartsAt == nil || !now.Before(*d.StartsAt)) && (d.EndsAt == nil || now.Before(*d.EndsAt))
}

// Remaining is the seats left as last rolled up from the seat shards: it
// may lag them by the stream's delay (seconds), and is never below zero.
func (d *Deal) Remaining() int { return max(0, d.Stock-d.SeatsTaken) }

// LeaderPrice is what the leader pays: leaderPriceFen where set.
func (d *Deal) LeaderPrice() int64 {
	if d.LeaderPriceFen != nil {
		return *d.LeaderPriceFen
	}
	return d.GroupPriceFen
}
