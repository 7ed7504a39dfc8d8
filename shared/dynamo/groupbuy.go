package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/mydata"
)

var _ groupbuy.Store = (*GroupStore)(nil)

// GroupStore keeps deals, seat stock and rooms.
//
// Items:
//
//	T#<t> / DEAL#<deal>              the deal; seatsTaken and countedAt are the
//	                                 seat shards' taken as last rolled up (RefreshSeats)
//	SEAT#<t>#<deal>#<n> / _          seat stock shard n: cap and taken, taken <= cap
//	GROUP#<id> / _                   the room with its roster; open rooms carry
//	                                 expShard/expAt for the Expiring index
//	GROUP#<id> / M#<user>            a member: one per user and room
//	T#<t>#U#<user> / GB#<deal>       the user's count of rooms that did not fail,
//	                                 and the room they lead while it is open
//
// Seat shards are separate partition keys so that one deal's spike spreads
// over up to groupbuy.MaxSeatShards keys (see groupbuy.ShardsFor). Rooms are their own
// partitions: their ids are unique across tenants and a room's writes never
// touch a tenant-wide key.
type GroupStore struct{ *Store }

const (
	kindDeal        = "deal"
	kindSeatShard   = "seatShard"
	kindRoom        = "groupRoom"
	kindGroupMember = "groupMember"
	kindDealUse     = "dealUse"

	skDealPrefix    = "DEAL#"
	skMemberPrefix  = "M#"
	skDealUsePrefix = "GB#"
)

func dealSK(dealID string) string  { return skDealPrefix + dealID }
func roomPK(groupID string) string { return "GROUP#" + groupID }
func seatPK(tenant, dealID string, shard int) string {
	return fmt.Sprintf("SEAT#%s#%s#%d", tenant, dealID, shard)
}

// Open rooms are spread over expiryShards partitions of the Expiring index
// by a hash of their id, so opening rooms never makes one index key hot
// (16 keys take 16,000 opens/s), and the closer reads each shard's due
// entries with one Query: expShard = EXP#nn AND expAt <= now.
const expiryShards = 16

func expShardOf(groupID string) string {
	return fmt.Sprintf("EXP#%02d", shardOf(groupID, expiryShards))
}

// ---- deals ----

type dealItem struct {
	key
	Kind              string     `dynamodbav:"kind"`
	Tenant            string     `dynamodbav:"tenant"`
	DealID            string     `dynamodbav:"dealId"`
	Title             string     `dynamodbav:"title"`
	SKU               string     `dynamodbav:"sku"`
	PriceFen          int64      `dynamodbav:"priceFen"`
	GroupPriceFen     int64      `dynamodbav:"groupPriceFen"`
	LeaderPriceFen    *int64     `dynamodbav:"leaderPriceFen,omitempty"`
	GroupSize         int        `dynamodbav:"groupSize"`
	MinSize           int        `dynamodbav:"minSize"`
	TTLSeconds        int        `dynamodbav:"ttlSeconds"`
	Stock             int        `dynamodbav:"stock"`
	PerUserLimit      int        `dynamodbav:"perUserLimit"`
	NewcomersOnly     bool       `dynamodbav:"newcomersOnly"`
	StartsAt          *time.Time `dynamodbav:"startsAt,omitempty"`
	EndsAt            *time.Time `dynamodbav:"endsAt,omitempty"`
	VoucherTemplateID string     `dynamodbav:"voucherTemplateId,omitempty"`
	UpdatedAt         time.Time  `dynamodbav:"updatedAt"`
	Shards            int        `dynamodbav:"shards"`
	Version           int        `dynamodbav:"version"`
	SeatsTaken        int        `dynamodbav:"seatsTaken,omitempty"` // written only by RefreshSeats
	CountedAt         int64      `dynamodbav:"countedAt,omitempty"`  // when seatsTaken was read, unix ms
}

// dealOptional are the deal's attributes an admin may leave out; a replace
// removes them when absent.
var dealOptional = []string{"leaderPriceFen", "startsAt", "endsAt", "voucherTemplateId"}

func (i dealItem) deal() *groupbuy.Deal {
	return &groupbuy.Deal{
		Tenant: i.Tenant, DealID: i.DealID, Title: i.Title, SKU: i.SKU,
		PriceFen: i.PriceFen, GroupPriceFen: i.GroupPriceFen, LeaderPriceFen: i.LeaderPriceFen,
		GroupSize: i.GroupSize, MinSize: i.MinSize, TTLSeconds: i.TTLSeconds, Stock: i.Stock,
		PerUserLimit: i.PerUserLimit, NewcomersOnly: i.NewcomersOnly, StartsAt: i.StartsAt, EndsAt: i.EndsAt,
		VoucherTemplateID: i.VoucherTemplateID, UpdatedAt: i.UpdatedAt,
		Shards: max(i.Shards, 1), SeatsTaken: i.SeatsTaken, Version: i.Version,
	}
}

// Deal reads one deal.
func (s GroupStore) Deal(ctx context.Context, tenant, dealID string) (*groupbuy.Deal, error) {
	var it dealItem
	found, err := s.getItem(ctx, key{PK: tenantPK(tenant), SK: dealSK(dealID)}, &it)
	if !found || err != nil {
		return nil, err
	}
	return it.deal(), nil
}

// Deals reads all of a tenant's deals with one Query.
func (s GroupStore) Deals(ctx context.Context, tenant string) ([]groupbuy.Deal, error) {
	return queryAll(ctx, s.Store, prefixQuery(tenantPK(tenant), skDealPrefix),
		decodeVia(func(it dealItem) groupbuy.Deal { return *it.deal() }))
}

type seatShardItem struct {
	key
	Kind   string `dynamodbav:"kind"`
	Tenant string `dynamodbav:"tenant"`
	DealID string `dynamodbav:"dealId"`
	Shard  int    `dynamodbav:"shard"`
	Cap    int    `dynamodbav:"cap"`
	Taken  int    `dynamodbav:"taken"`
}

// DealWithSeats reads the deal, every possible seat shard and, when one is
// named, the voucher template the save would point the deal at, in one
// TransactGetItems (a consistent snapshot; an admin's replace is rare).
func (s GroupStore) DealWithSeats(ctx context.Context, tenant, dealID, voucherTemplateID string) (groupbuy.DealSnapshot, error) {
	var extra []key
	if voucherTemplateID != "" {
		extra = append(extra, templateKey(tenant, voucherTemplateID))
	}
	it, taken, found, err := s.dealSnapshot(ctx, tenant, dealID, extra...)
	snap := groupbuy.DealSnapshot{Taken: taken} // seats may outlive a deal item: they are counted still
	if err != nil {
		return snap, err
	}
	snap.VoucherTemplateExists = voucherTemplateID != "" && found[0]
	if it != nil {
		snap.Deal = it.deal()
	}
	return snap, nil
}

// dealSnapshot reads the deal item (nil if none), the seats taken on each
// of its MaxSeatShards possible shards and whether each of the extra items
// exists, at one point in time.
func (s GroupStore) dealSnapshot(ctx context.Context, tenant, dealID string, extra ...key) (*dealItem, []int, []bool, error) {
	gets := make([]types.TransactGetItem, 0, 1+groupbuy.MaxSeatShards+len(extra))
	gets = append(gets, types.TransactGetItem{Get: &types.Get{
		TableName: aws.String(s.Table), Key: key{PK: tenantPK(tenant), SK: dealSK(dealID)}.av(),
	}})
	for n := 0; n < groupbuy.MaxSeatShards; n++ {
		gets = append(gets, types.TransactGetItem{Get: &types.Get{
			TableName: aws.String(s.Table), Key: key{PK: seatPK(tenant, dealID, n), SK: skSelf}.av(),
		}})
	}
	for _, k := range extra {
		gets = append(gets, types.TransactGetItem{Get: &types.Get{
			TableName: aws.String(s.Table), Key: k.av(),
			ProjectionExpression: aws.String("#pk"), ExpressionAttributeNames: map[string]string{"#pk": "pk"},
		}})
	}
	out, err := s.DB.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
	if err != nil {
		return nil, nil, nil, err
	}
	var deal *dealItem
	taken := make([]int, groupbuy.MaxSeatShards)
	found := make([]bool, len(extra))
	for i, r := range out.Responses {
		if len(r.Item) == 0 {
			continue
		}
		switch {
		case i == 0:
			deal = &dealItem{}
			if err := attributevalue.UnmarshalMap(r.Item, deal); err != nil {
				return nil, nil, nil, err
			}
		case i <= groupbuy.MaxSeatShards:
			var sh seatShardItem
			if err := attributevalue.UnmarshalMap(r.Item, &sh); err != nil {
				return nil, nil, nil, err
			}
			taken[i-1] = sh.Taken
		default:
			found[i-1-groupbuy.MaxSeatShards] = true
		}
	}
	return deal, taken, found, nil
}

// SaveDeal writes the deal's terms and its shards' caps in one transaction.
// The deal is updated, not put, so the rolled-up seatsTaken is never
// overwritten; its version guards against a concurrent replace.
func (s GroupStore) SaveDeal(ctx context.Context, d groupbuy.Deal, prevVersion int, caps, seen []int) (bool, error) {
	k := key{PK: tenantPK(d.Tenant), SK: dealSK(d.DealID)}
	av, err := attributevalue.MarshalMap(dealItem{
		key: k, Kind: kindDeal, Tenant: d.Tenant, DealID: d.DealID, Title: d.Title, SKU: d.SKU,
		PriceFen: d.PriceFen, GroupPriceFen: d.GroupPriceFen, LeaderPriceFen: d.LeaderPriceFen,
		GroupSize: d.GroupSize, MinSize: d.MinSize, TTLSeconds: d.TTLSeconds, Stock: d.Stock,
		PerUserLimit: d.PerUserLimit, NewcomersOnly: d.NewcomersOnly, StartsAt: d.StartsAt, EndsAt: d.EndsAt,
		VoucherTemplateID: d.VoucherTemplateID, UpdatedAt: d.UpdatedAt, Shards: d.Shards, Version: d.Version,
	})
	if err != nil {
		return false, err
	}
	var upd expression.UpdateBuilder
	for name, v := range av {
		if name == "pk" || name == "sk" || name == "seatsTaken" || name == "countedAt" {
			continue
		}
		upd = upd.Set(expression.Name(name), expression.Value(v))
	}
	for _, name := range dealOptional {
		if _, ok := av[name]; !ok {
			upd = upd.Remove(expression.Name(name))
		}
	}
	cond := notExists()
	if prevVersion > 0 {
		cond = expression.Name("version").Equal(expression.Value(prevVersion))
	}
	save := tx{parts: []part{{"deal", s.update(k, upd, &cond)}}}
	for n, c := range caps {
		shard := expression.Set(expression.Name("kind"), expression.Value(kindSeatShard)).
			Set(expression.Name("tenant"), expression.Value(d.Tenant)).
			Set(expression.Name("dealId"), expression.Value(d.DealID)).
			Set(expression.Name("shard"), expression.Value(n)).
			Set(expression.Name("cap"), expression.Value(c)).
			Set(expression.Name("taken"), expression.IfNotExists(expression.Name("taken"), expression.Value(0)))
		bound := c
		if n < len(seen) {
			bound = max(c, seen[n])
		}
		unmoved := expression.AttributeNotExists(expression.Name("taken")).
			Or(expression.Name("taken").LessThanEqual(expression.Value(bound)))
		save.add("seats", s.update(key{PK: seatPK(d.Tenant, d.DealID, n), SK: skSelf}, shard, &unmoved))
	}
	cancelled, err := s.transact(ctx, save)
	return cancelled == nil && err == nil, err
}

// RefreshSeats rolls the deal's seat shards up into its seatsTaken, which
// `remaining` is read from: one snapshot of the deal and its shards, then
// one UpdateItem of the deal, only if no snapshot taken later is stored
// (countedAt orders them). If the stored one was taken at or after since,
// it already holds every seat taken before since, and nothing is written.
//
// The hooks function calls it once per deal and stream batch, since being
// when the batch arrived; a spike's batches are few hundred a second (see
// template.yaml, BatchSize), so the deal's key takes that many writes at
// most, and the last batch of a spike always leaves the deal exact.
func (s GroupStore) RefreshSeats(ctx context.Context, tenant, dealID string, since time.Time) error {
	readAt := s.Now().UnixMilli()
	it, taken, _, err := s.dealSnapshot(ctx, tenant, dealID)
	if it == nil || err != nil || it.CountedAt >= since.UnixMilli() {
		return err
	}
	sum := groupbuy.SeatsHeld(taken)
	if sum == it.SeatsTaken && it.CountedAt > 0 {
		return nil
	}
	return s.rollUp(ctx, key{PK: tenantPK(tenant), SK: dealSK(dealID)},
		expression.Set(expression.Name("seatsTaken"), expression.Value(sum)), readAt)
}

// ---- rooms ----

type rosterEntry struct {
	UserID    string    `dynamodbav:"userId"`
	Name      string    `dynamodbav:"name"`
	Role      string    `dynamodbav:"role"`
	PhoneHash string    `dynamodbav:"phoneHash,omitempty"`
	Leader    bool      `dynamodbav:"leader"`
	PriceFen  int64     `dynamodbav:"priceFen"`
	Shard     int       `dynamodbav:"shard"`
	JoinedAt  time.Time `dynamodbav:"joinedAt"`
	Req       string    `dynamodbav:"req,omitempty"`
}

func newRosterEntry(m groupbuy.Member) rosterEntry {
	return rosterEntry{
		UserID: m.UserID, Name: m.Name, Role: string(m.Role), PhoneHash: m.PhoneHash,
		Leader: m.Leader, PriceFen: m.PriceFen, Shard: m.Shard, JoinedAt: m.JoinedAt, Req: m.Req,
	}
}

func (e rosterEntry) member() groupbuy.Member {
	return groupbuy.Member{
		UserID: e.UserID, Name: e.Name, Role: auth.Role(e.Role), PhoneHash: e.PhoneHash,
		Leader: e.Leader, PriceFen: e.PriceFen, Shard: e.Shard, JoinedAt: e.JoinedAt, Req: e.Req,
	}
}

// roomItem is the room with its roster: what a join or a settlement decides
// on is in this one item, read with one GetItem and returned whole when a
// condition fails.
type roomItem struct {
	key
	Kind              string        `dynamodbav:"kind"`
	GroupID           string        `dynamodbav:"groupId"`
	Tenant            string        `dynamodbav:"tenant"`
	DealID            string        `dynamodbav:"dealId"`
	LeaderID          string        `dynamodbav:"leaderId"`
	Size              int           `dynamodbav:"size"`
	MinSize           int           `dynamodbav:"minSize"`
	Joined            int           `dynamodbav:"joined"`
	Status            string        `dynamodbav:"status"`
	OpenedAt          time.Time     `dynamodbav:"openedAt"`
	ExpiresAt         string        `dynamodbav:"expiresAt"`
	SettledAt         *time.Time    `dynamodbav:"settledAt,omitempty"`
	Members           []rosterEntry `dynamodbav:"members"`
	DealTitle         string        `dynamodbav:"dealTitle"`
	VoucherTemplateID string        `dynamodbav:"voucherTemplateId,omitempty"`
	GroupPriceFen     int64         `dynamodbav:"groupPriceFen"`
	LeaderPriceFen    int64         `dynamodbav:"leaderPriceFen"`
	PerUserLimit      int           `dynamodbav:"perUserLimit"`
	NewcomersOnly     bool          `dynamodbav:"newcomersOnly"`
	Shards            int           `dynamodbav:"shards"`
	ExpShard          string        `dynamodbav:"expShard,omitempty"`
	ExpAt             string        `dynamodbav:"expAt,omitempty"`
}

func newRoomItem(r groupbuy.Room) roomItem {
	it := roomItem{
		key:  key{PK: roomPK(r.GroupID), SK: skSelf},
		Kind: kindRoom, GroupID: r.GroupID, Tenant: r.Tenant, DealID: r.DealID, LeaderID: r.LeaderID,
		Size: r.Size, MinSize: r.MinSize, Joined: r.Joined, Status: string(r.Status),
		OpenedAt: r.OpenedAt, ExpiresAt: second(r.ExpiresAt), SettledAt: r.SettledAt,
		DealTitle: r.DealTitle, VoucherTemplateID: r.VoucherTemplateID,
		GroupPriceFen: r.GroupPriceFen, LeaderPriceFen: r.LeaderPriceFen,
		PerUserLimit: r.PerUserLimit, NewcomersOnly: r.NewcomersOnly, Shards: r.Shards,
	}
	for _, m := range r.Members {
		it.Members = append(it.Members, newRosterEntry(m))
	}
	if r.Status == groupbuy.Open {
		it.ExpShard, it.ExpAt = expShardOf(r.GroupID), it.ExpiresAt
	}
	return it
}

func (i roomItem) room() *groupbuy.Room {
	r := &groupbuy.Room{
		GroupID: i.GroupID, Tenant: i.Tenant, DealID: i.DealID, LeaderID: i.LeaderID,
		Size: i.Size, MinSize: i.MinSize, Joined: i.Joined, Status: groupbuy.Status(i.Status),
		OpenedAt: i.OpenedAt, ExpiresAt: parseSecond(i.ExpiresAt), SettledAt: i.SettledAt,
		DealTitle: i.DealTitle, VoucherTemplateID: i.VoucherTemplateID,
		GroupPriceFen: i.GroupPriceFen, LeaderPriceFen: i.LeaderPriceFen,
		PerUserLimit: i.PerUserLimit, NewcomersOnly: i.NewcomersOnly, Shards: max(i.Shards, 1),
	}
	for _, e := range i.Members {
		r.Members = append(r.Members, e.member())
	}
	return r
}

// roomFrom reads a room as GetItem or a failed condition returns it.
var roomFrom = decodeVia(roomItem.room)

// memberItem makes a second join by the same user fail on its own key.
type memberItem struct {
	key
	Kind    string `dynamodbav:"kind"`
	Tenant  string `dynamodbav:"tenant"`
	GroupID string `dynamodbav:"groupId"`
	DealID  string `dynamodbav:"dealId"`
	rosterEntry
	// OwnerKey and OwnerSort list the membership under its member in the
	// ByOwner index, so their rooms are found from them (export, erasure).
	OwnerKey  string `dynamodbav:"ownerKey"`
	OwnerSort string `dynamodbav:"ownerSort"`
}

type dealUseItem struct {
	key
	Kind      string `dynamodbav:"kind"`
	Tenant    string `dynamodbav:"tenant"`
	UserID    string `dynamodbav:"userId"`
	DealID    string `dynamodbav:"dealId"`
	Count     int    `dynamodbav:"count"`
	OpenRoom  string `dynamodbav:"openRoom,omitempty"`
	OpenUntil string `dynamodbav:"openUntil,omitempty"`
}

func dealUseKey(tenant, userID, dealID string) key {
	return key{PK: userPK(tenant, userID), SK: skDealUsePrefix + dealID}
}

// Room reads a room with its roster.
func (s GroupStore) Room(ctx context.Context, groupID string, fresh bool) (*groupbuy.Room, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            key{PK: roomPK(groupID), SK: skSelf}.av(),
		ConsistentRead: aws.Bool(fresh),
	})
	if err != nil || out.Item == nil {
		return nil, err
	}
	return roomFrom(out.Item)
}

// OpenRoom writes the room, its leader, the leader's seat and standing and
// group.opened in one transaction.
func (s GroupStore) OpenRoom(ctx context.Context, o groupbuy.OpenRoom) (*groupbuy.OpenConflict, error) {
	r := o.Room
	leader := r.Members[0]
	room, err := s.putIf(newRoomItem(r), notExists())
	if err != nil {
		return nil, err
	}
	member, err := s.memberPut(r, leader)
	if err != nil {
		return nil, err
	}
	now := second(o.Now)
	standing := expression.And(
		expression.AttributeNotExists(expression.Name("openRoom")).
			Or(expression.Name("openUntil").LessThanEqual(expression.Value(now))),
		expression.AttributeNotExists(expression.Name("count")).
			Or(expression.Name("count").LessThan(expression.Value(o.Limit))),
	)
	use := s.update(dealUseKey(r.Tenant, leader.UserID, r.DealID),
		s.dealUseSet(r.Tenant, leader.UserID, r.DealID).
			Set(expression.Name("openRoom"), expression.Value(r.GroupID)).
			Set(expression.Name("openUntil"), expression.Value(second(r.ExpiresAt))).
			Add(expression.Name("count"), expression.Value(1)),
		&standing)
	ev, err := s.eventPut(o.Event)
	if err != nil {
		return nil, err
	}
	cancelled, err := s.transact(ctx, tx{parts: []part{
		{"room", room}, {"member", member}, {"seat", s.takeSeat(r, leader.Shard)}, {"use", use}, {"event", ev},
		{"notErased", s.notErased(r.Tenant, leader.UserID)},
	}})
	switch {
	case err != nil || cancelled == nil:
		return nil, err
	case cancelled.by("notErased").ConditionFailed():
		return nil, mydata.ErrErased
	}
	c := &groupbuy.OpenConflict{
		RoomExists: cancelled.by("room").ConditionFailed() || cancelled.by("member").ConditionFailed(),
		ShardEmpty: cancelled.by("seat").ConditionFailed(),
	}
	if held := cancelled.by("use"); held.ConditionFailed() {
		var it dealUseItem
		if err := attributevalue.UnmarshalMap(held.Item, &it); err != nil {
			return nil, err
		}
		c.Holding = &groupbuy.UserDeal{Count: it.Count, OpenRoom: it.OpenRoom, OpenUntil: parseSecond(it.OpenUntil)}
	}
	return c, nil
}

// JoinRoom writes a join in one transaction. The room's condition depends on
// whether the join fills it: joined < size-1, or joined = size-1 and the
// room turns SUCCEEDED, leaves the expiry index and frees its leader to
// open another room, all in the same write.
func (s GroupStore) JoinRoom(ctx context.Context, j groupbuy.JoinRoom) (*groupbuy.JoinConflict, error) {
	r, m := j.Seen, j.Member
	room := s.roomJoined(j)
	member, err := s.memberPut(r, m)
	if err != nil {
		return nil, err
	}
	limit := expression.AttributeNotExists(expression.Name("count")).
		Or(expression.Name("count").LessThan(expression.Value(r.PerUserLimit)))
	use := s.update(dealUseKey(r.Tenant, m.UserID, r.DealID),
		s.dealUseSet(r.Tenant, m.UserID, r.DealID).Add(expression.Name("count"), expression.Value(1)), &limit)

	t := tx{parts: []part{
		{"room", room}, {"member", member}, {"seat", s.takeSeat(r, m.Shard)}, {"use", use},
		{"notErased", s.notErased(r.Tenant, m.UserID)},
	}}
	if r.NewcomersOnly {
		t.add("newcomer", s.check(key{PK: userPK(r.Tenant, m.UserID), SK: skPatient}, notExists()))
	}
	if j.Fills {
		// The room was the leader's open room for this deal until now.
		free := expression.Remove(expression.Name("openRoom")).Remove(expression.Name("openUntil"))
		t.add("use:leader", s.update(dealUseKey(r.Tenant, r.LeaderID, r.DealID), free, nil))
	}
	for _, e := range j.Events {
		ev, err := s.eventPut(e)
		if err != nil {
			return nil, err
		}
		t.add("event", ev)
	}
	cancelled, err := s.transact(ctx, t)
	switch {
	case err != nil || cancelled == nil:
		return nil, err
	case cancelled.by("notErased").ConditionFailed():
		return nil, mydata.ErrErased
	}
	c := &groupbuy.JoinConflict{
		AlreadyMember:   cancelled.by("member").ConditionFailed(),
		ShardEmpty:      cancelled.by("seat").ConditionFailed(),
		LimitReached:    cancelled.by("use").ConditionFailed(),
		ExistingPatient: cancelled.by("newcomer").ConditionFailed(),
	}
	if held := cancelled.by("room"); held.ConditionFailed() && len(held.Item) > 0 {
		if c.Room, err = roomFrom(held.Item); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// roomJoined adds the join to the room's count and roster, on the condition
// that the room is open, unexpired and, as the join fills it or not, at
// size-1 (then turning SUCCEEDED and leaving the expiry index) or below.
func (s GroupStore) roomJoined(j groupbuy.JoinRoom) types.TransactWriteItem {
	r := j.Seen
	now := second(j.Now)
	cond := expression.Name("status").Equal(expression.Value(string(groupbuy.Open))).
		And(expression.Name("expiresAt").GreaterThan(expression.Value(now)))
	upd := expression.Set(expression.Name("joined"), expression.Name("joined").Plus(expression.Value(1))).
		Set(expression.Name("members"), expression.ListAppend(expression.Name("members"), expression.Value([]rosterEntry{newRosterEntry(j.Member)})))
	if j.Fills {
		cond = cond.And(expression.Name("joined").Equal(expression.Value(r.Size - 1)))
		upd = upd.Set(expression.Name("status"), expression.Value(string(groupbuy.Succeeded))).
			Set(expression.Name("settledAt"), expression.Value(j.Now.UTC())).
			Remove(expression.Name("expShard")).
			Remove(expression.Name("expAt"))
	} else {
		cond = cond.And(expression.Name("joined").LessThan(expression.Value(r.Size - 1)))
	}
	return s.update(key{PK: roomPK(r.GroupID), SK: skSelf}, upd, &cond)
}

func (s GroupStore) memberPut(r groupbuy.Room, m groupbuy.Member) (types.TransactWriteItem, error) {
	return s.putIf(memberItem{
		key:  key{PK: roomPK(r.GroupID), SK: skMemberPrefix + m.UserID},
		Kind: kindGroupMember, Tenant: r.Tenant, GroupID: r.GroupID, DealID: r.DealID,
		rosterEntry: newRosterEntry(m),
		OwnerKey:    userPK(r.Tenant, m.UserID), OwnerSort: ownerSortAt(ownerRoom, m.JoinedAt, r.GroupID),
	}, notExists())
}

// takeSeat takes one seat from a shard that has one left.
func (s GroupStore) takeSeat(r groupbuy.Room, shard int) types.TransactWriteItem {
	hasSeat := expression.Name("taken").LessThan(expression.Name("cap"))
	return s.update(key{PK: seatPK(r.Tenant, r.DealID, shard), SK: skSelf},
		expression.Add(expression.Name("taken"), expression.Value(1)), &hasSeat)
}

func (s GroupStore) dealUseSet(tenant, userID, dealID string) expression.UpdateBuilder {
	return expression.Set(expression.Name("kind"), expression.Value(kindDealUse)).
		Set(expression.Name("tenant"), expression.Value(tenant)).
		Set(expression.Name("userId"), expression.Value(userID)).
		Set(expression.Name("dealId"), expression.Value(dealID))
}

// groupIDOf reads a room's id from its partition key.
func groupIDOf(pk string) (string, bool) { return strings.CutPrefix(pk, "GROUP#") }
