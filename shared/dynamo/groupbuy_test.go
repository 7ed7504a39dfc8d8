package dynamo

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/groupbuy"
)

func newGroupStore(t *testing.T) GroupStore {
	t.Helper()
	db := ddbtest.New(t, ddbtest.WithoutStream()) // the store is tested without the stream
	return GroupStore{Store: NewStore(db.Client, db.Table)}
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func saveDeal(t *testing.T, s GroupStore, id string, stock int, newcomersOnly bool) groupbuy.Deal {
	return replaceDeal(t, s, id, stock, newcomersOnly, 0)
}

func replaceDeal(t *testing.T, s GroupStore, id string, stock int, newcomersOnly bool, prevVersion int) groupbuy.Deal {
	t.Helper()
	d := groupbuy.Deal{
		Tenant: "clinic-a", DealID: id, Title: "闺蜜卡", SKU: "S", PriceFen: 200, GroupPriceFen: 100,
		GroupSize: 3, MinSize: 3, TTLSeconds: 60, Stock: stock, PerUserLimit: 1, NewcomersOnly: newcomersOnly,
		UpdatedAt: t0, Shards: groupbuy.ShardsFor(stock), Version: prevVersion + 1,
	}
	ok, err := s.SaveDeal(context.Background(), d, prevVersion, groupbuy.AllotSeats(stock, make([]int, d.Shards)), make([]int, d.Shards))
	require.NoError(t, err)
	require.True(t, ok)
	return d
}

func openRoom(t *testing.T, s GroupStore, d groupbuy.Deal, id, leader string, expires time.Time) groupbuy.Room {
	t.Helper()
	return openRoomOn(t, s, d, id, leader, expires, 0)
}

// openRoomOn opens a room whose leader's seat comes from the given shard.
func openRoomOn(t *testing.T, s GroupStore, d groupbuy.Deal, id, leader string, expires time.Time, shard int) groupbuy.Room {
	t.Helper()
	r := groupbuy.Room{
		GroupID: id, Tenant: d.Tenant, DealID: d.DealID, LeaderID: leader, Size: d.GroupSize, MinSize: d.MinSize,
		Joined: 1, Status: groupbuy.Open, OpenedAt: t0, ExpiresAt: expires, DealTitle: d.Title,
		GroupPriceFen: d.GroupPriceFen, LeaderPriceFen: d.GroupPriceFen, PerUserLimit: d.PerUserLimit,
		NewcomersOnly: d.NewcomersOnly, Shards: d.Shards,
		Members: []groupbuy.Member{{UserID: leader, Name: "张*", Leader: true, PriceFen: 100, JoinedAt: t0, Shard: shard}},
	}
	c, err := s.OpenRoom(context.Background(), groupbuy.OpenRoom{
		Room: r, Limit: d.PerUserLimit, Now: t0,
		Event: event.New(event.GroupOpened, d.Tenant, t0, map[string]any{"groupId": id}),
	})
	require.NoError(t, err)
	require.Nil(t, c)
	return r
}

// A refused join reports every condition that failed and the room as it
// was, so the caller can classify and retry without reading again.
func TestJoinRoomConflict(t *testing.T) {
	s := newGroupStore(t)
	ctx := context.Background()
	d := saveDeal(t, s, "scarce", 1, true)
	r := openRoom(t, s, d, "ROOM00000001", "leader", t0.Add(time.Minute)) // takes the only seat

	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: key{PK: userPK("clinic-a", "returning"), SK: skPatient}.av()})
	require.NoError(t, err)
	join := func(user string, fills bool, at time.Time) *groupbuy.JoinConflict {
		c, err := s.JoinRoom(ctx, groupbuy.JoinRoom{
			Seen: r, Member: groupbuy.Member{UserID: user, Name: "李*", PriceFen: 100, JoinedAt: at}, Fills: fills, Now: at,
			Events: []event.Event{event.New(event.GroupJoined, "clinic-a", at, map[string]any{"groupId": r.GroupID})},
		})
		require.NoError(t, err)
		return c
	}

	c := join("returning", false, t0)
	require.NotNil(t, c)
	require.True(t, c.ShardEmpty)
	require.True(t, c.ExistingPatient)
	require.False(t, c.AlreadyMember)
	require.Nil(t, c.Room, "the room's own condition held")

	c = join("leader", true, t0)
	require.True(t, c.AlreadyMember)
	require.NotNil(t, c.Room, "a filling join on a room of one: the room as it is")
	require.Equal(t, 1, c.Room.Joined)
	require.Equal(t, []string{"leader"}, []string{c.Room.Members[0].UserID})

	c = join("newbie", false, t0.Add(time.Minute))
	require.NotNil(t, c.Room, "expired")
	require.Equal(t, groupbuy.Open, c.Room.Status)
}

// seatsTaken is what the shards hold as of the latest reading; a refresh
// whose batch arrived before the stored reading writes nothing; a deal
// that is gone is not recreated; a replace keeps the count.
func TestRefreshSeats(t *testing.T) {
	s := newGroupStore(t)
	ctx := context.Background()
	d := saveDeal(t, s, "d", 10, false)
	for i := range 3 {
		openRoom(t, s, d, fmt.Sprintf("ROOM%04d", i), fmt.Sprintf("u%d", i), t0.Add(time.Hour))
	}
	got, err := s.Deal(ctx, "clinic-a", "d")
	require.NoError(t, err)
	require.Equal(t, 10, got.Remaining(), "not rolled up yet")

	require.NoError(t, s.RefreshSeats(ctx, "clinic-a", "d", time.Now()))
	got, err = s.Deal(ctx, "clinic-a", "d")
	require.NoError(t, err)
	require.Equal(t, 3, got.SeatsTaken)
	require.Equal(t, 7, got.Remaining())

	// A batch that arrived before that reading: its seats are in it already.
	before := time.Now().Add(-time.Minute)
	openRoom(t, s, d, "ROOM9999", "late", t0.Add(time.Hour))
	require.NoError(t, s.RefreshSeats(ctx, "clinic-a", "d", before))
	got, err = s.Deal(ctx, "clinic-a", "d")
	require.NoError(t, err)
	require.Equal(t, 3, got.SeatsTaken, "nothing written")
	require.NoError(t, s.RefreshSeats(ctx, "clinic-a", "d", time.Now()))
	got, err = s.Deal(ctx, "clinic-a", "d")
	require.NoError(t, err)
	require.Equal(t, 4, got.SeatsTaken)

	require.NoError(t, s.RefreshSeats(ctx, "clinic-a", "gone", time.Now()))
	gone, err := s.Deal(ctx, "clinic-a", "gone")
	require.NoError(t, err)
	require.Nil(t, gone)

	replaceDeal(t, s, "d", 10, false, 1)
	got, err = s.Deal(ctx, "clinic-a", "d")
	require.NoError(t, err)
	require.Equal(t, 4, got.SeatsTaken)
}

// Many stream batches at once, each refreshing after its seats were taken
// (as the hooks function does): when the last is done the deal is exact,
// whatever order their readings and writes landed in. Nothing refreshes
// after the writers.
func TestRefreshSeatsConvergesUnderConcurrency(t *testing.T) {
	s := newGroupStore(t)
	ctx := context.Background()
	d := saveDeal(t, s, "hot", 5000, false)
	const pollers, rounds, seatsEach = 12, 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, pollers*rounds*2)
	for p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds { // each poller's batches, one after another
				for i := range seatsEach {
					n := (p*rounds+r)*seatsEach + i
					openRoomOn(t, s, d, fmt.Sprintf("R%04d", n), fmt.Sprintf("u%04d", n), t0.Add(time.Hour), n%d.Shards)
				}
				arrived := time.Now()
				errs <- s.RefreshSeats(ctx, "clinic-a", "hot", arrived)
				errs <- s.RefreshSeats(ctx, "clinic-a", "hot", arrived) // the stream redelivers
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.Deal(ctx, "clinic-a", "hot")
	require.NoError(t, err)
	require.Equal(t, pollers*rounds*seatsEach, got.SeatsTaken)
	require.Equal(t, 5000-pollers*rounds*seatsEach, got.Remaining())
}

// The expiry index yields due rooms only, oldest first per shard, and
// stops when told to; settling takes a room off it.
func TestExpiredRooms(t *testing.T) {
	s := newGroupStore(t)
	ctx := context.Background()
	d := saveDeal(t, s, "d", 100, false)
	var ids []string
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("ROOM%08d", i)
		ids = append(ids, id)
		openRoom(t, s, d, id, fmt.Sprintf("u%02d", i), t0.Add(time.Duration(i+1)*time.Second))
	}
	due := func(now time.Time, limit int) (map[string]bool, int) {
		got := map[string]bool{}
		read := 0
		for shard := 0; shard < s.ExpiryShards(); shard++ {
			last := time.Time{}
			n, err := s.ExpiredRooms(ctx, shard, now, func(id string) bool {
				r, err := s.Room(ctx, id, true)
				require.NoError(t, err)
				require.False(t, r.ExpiresAt.Before(last), "oldest first")
				last = r.ExpiresAt
				got[id] = true
				return len(got) < limit
			})
			require.NoError(t, err)
			read += n
			if len(got) >= limit {
				break
			}
		}
		return got, read
	}
	got, read := due(t0.Add(10*time.Second), 100)
	require.Len(t, got, 10)
	require.Equal(t, 10, read)
	for _, id := range ids[:10] {
		require.True(t, got[id])
	}
	got, _ = due(t0.Add(time.Hour), 5)
	require.Len(t, got, 5, "stops when told")

	r, err := s.Room(ctx, ids[0], true)
	require.NoError(t, err)
	refused, err := s.SettleRoom(ctx, groupbuy.Settlement{Seen: *r, Outcome: groupbuy.Failed, Now: t0.Add(time.Hour),
		Event: event.New(event.GroupFailed, "clinic-a", t0, map[string]any{"groupId": ids[0]})})
	require.NoError(t, err)
	require.Nil(t, refused)
	got, _ = due(t0.Add(10*time.Second), 100)
	require.Len(t, got, 9)
	require.False(t, got[ids[0]], "settled rooms leave the index")

	// A second settlement of the same room is refused with the room as it is.
	refused, err = s.SettleRoom(ctx, groupbuy.Settlement{Seen: *r, Outcome: groupbuy.Failed, Now: t0.Add(time.Hour),
		Event: event.New(event.GroupFailed, "clinic-a", t0, map[string]any{"groupId": ids[0]})})
	require.NoError(t, err)
	require.NotNil(t, refused)
	require.Equal(t, groupbuy.Failed, refused.Status)

	// A settlement of a room read with an older count is refused too.
	r1, err := s.Room(ctx, ids[1], true)
	require.NoError(t, err)
	stale := *r1
	stale.Joined = 2
	refused, err = s.SettleRoom(ctx, groupbuy.Settlement{Seen: stale, Outcome: groupbuy.Failed, Now: t0.Add(time.Hour),
		Event: event.New(event.GroupFailed, "clinic-a", t0, map[string]any{"groupId": ids[1]})})
	require.NoError(t, err)
	require.Equal(t, groupbuy.Open, refused.Status)
	require.Equal(t, 1, refused.Joined)
}

// A template's issued count is its stock less what its shards hold, as of
// the latest reading; an unlimited template has none to roll up.
func TestRefreshIssued(t *testing.T) {
	s := CouponStore{Store: newGroupStore(t).Store}
	ctx := context.Background()
	limited := coupon.Template{Tenant: "clinic-a", ID: "flash", Title: "立减", Kind: coupon.Cash, ValueFen: 500,
		ValidDays: 30, Stock: 100, Shards: coupon.ShardsFor(100), PerUserLimit: 1, Claimable: true, UpdatedAt: t0}
	unlimited := limited
	unlimited.ID, unlimited.Stock, unlimited.Shards = "gift", 0, 0
	for _, tpl := range []coupon.Template{limited, unlimited} {
		saved, err := s.SaveTemplate(ctx, tpl, nil, nil)
		require.NoError(t, err)
		require.True(t, saved)
	}
	take := func(shard int, n int64) { // what claims do to a shard
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.Table), Key: shardKey("clinic-a", "flash", shard).av(),
			UpdateExpression:          aws.String("SET #l = #l - :n"),
			ExpressionAttributeNames:  map[string]string{"#l": "left"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: fmt.Sprint(n)}},
		})
		require.NoError(t, err)
	}
	issued := func(id string) int64 {
		tpl, err := s.Template(ctx, "clinic-a", id)
		require.NoError(t, err)
		return tpl.Issued
	}

	take(0, 2)
	take(limited.Shards-1, 1)
	require.NoError(t, s.RefreshIssued(ctx, "clinic-a", "flash", limited.Shards, time.Now()))
	require.EqualValues(t, 3, issued("flash"))

	take(1, 4)
	require.NoError(t, s.RefreshIssued(ctx, "clinic-a", "flash", limited.Shards, time.Now().Add(-time.Minute)))
	require.EqualValues(t, 3, issued("flash"), "a batch from before the stored reading writes nothing")
	require.NoError(t, s.RefreshIssued(ctx, "clinic-a", "flash", limited.Shards, time.Now()))
	require.EqualValues(t, 7, issued("flash"))

	// A raise adds to the stock and the shards alike: issued stays.
	raised := limited
	raised.Stock = 150
	adds, err := raised.Replacing(limited)
	require.NoError(t, err)
	saved, err := s.SaveTemplate(ctx, raised, &limited, adds)
	require.NoError(t, err)
	require.True(t, saved)
	require.NoError(t, s.RefreshIssued(ctx, "clinic-a", "flash", limited.Shards, time.Now()))
	require.EqualValues(t, 7, issued("flash"))

	require.NoError(t, s.RefreshIssued(ctx, "clinic-a", "gift", 0, time.Now()))
	require.EqualValues(t, 0, issued("gift"))
	require.NoError(t, s.RefreshIssued(ctx, "clinic-a", "gone", 3, time.Now()))
}
