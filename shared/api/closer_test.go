package api

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
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/stream"
)

// runCloser runs the closer function once, as the schedule does.
func (s *stack) runCloser(d *app.Deps) (stream.CloserResult, *dynamo.Calls) {
	s.t.Helper()
	ctx, calls := dynamo.CountCalls(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()
	r, err := stream.Closer(d)(ctx, []byte(`{"detail-type":"Scheduled Event"}`))
	require.NoError(s.t, err)
	return r, calls
}

// A room that fails gives its seats and per-user counts back; running the
// closer again changes nothing.
func TestFailedRoomReturnsSeats(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "stock": 2, "ttlSeconds": 60, "perUserLimit": 1})
	leader, friend := patient("clinic-a", "leader"), patient("clinic-a", "friend")
	id := s.opened(leader, "trio")
	require.Equal(t, 200, s.join(friend, id).Status)
	late := s.open(patient("clinic-a", "late"), "trio")
	require.Equal(t, "SOLD_OUT", late.Code(t), late.Body)

	clock.Advance(61 * time.Second)
	r, _ := s.runCloser(s.deps)
	require.Equal(t, stream.CloserResult{Settled: 1, Failed: 1, Examined: 1}, r)
	require.Equal(t, "FAILED", s.status(id)["status"])
	_, taken := s.seatShards("clinic-a", "trio")
	require.Equal(t, []int{0}, taken, "both seats back")
	failed := s.events(event.GroupFailed)
	require.Len(t, failed, 1)
	require.Len(t, failed[0].Data["members"], 2)
	require.Equal(t, "GROUP_CLOSED", s.join(patient("clinic-a", "after"), id).Code(t))

	before := len(s.scan())
	again, _ := s.runCloser(s.deps)
	require.Equal(t, stream.CloserResult{}, again, "nothing left to settle")
	require.Equal(t, before, len(s.scan()), "and nothing written")
	_, taken = s.seatShards("clinic-a", "trio")
	require.Equal(t, []int{0}, taken)

	// Both may use the deal again (perUserLimit 1: a failed room does not
	// count), and the seats are theirs again.
	require.Equal(t, 201, s.open(leader, "trio").Status)
	require.Equal(t, 201, s.open(friend, "trio").Status)
	require.Equal(t, "SOLD_OUT", s.open(patient("clinic-a", "late"), "trio").Code(t))

	// remaining follows, once the stream has delivered the events.
	s.react(2, s.events(event.GroupOpened, event.GroupJoined, event.GroupFailed)...)
	s.deps.Groups().Deals.Forget("clinic-a/trio")
	d := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "trio"}, query: map[string]string{"tenant": "clinic-a"}})
	require.Equal(t, 0.0, d.JSON(t)["remaining"])
}

// At expiry a room with at least minSize members succeeds, with every member
// in group.succeeded; short of minSize it fails.
func TestSettleAtExpiry(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.putTemplate("clinic-a", "tpl-v", map[string]any{"kind": "VOUCHER", "claimable": false})
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "minSize": 2, "ttlSeconds": 60, "voucherTemplateId": "tpl-v", "leaderPriceFen": 999900})
	enough := s.opened(patient("clinic-a", "leader"), "trio")
	require.Equal(t, 200, s.join(patient("clinic-a", "friend"), enough).Status)
	alone := s.opened(patient("clinic-a", "loner"), "trio")

	clock.Advance(59 * time.Second)
	r, _ := s.runCloser(s.deps)
	require.Equal(t, stream.CloserResult{}, r, "not yet due")

	clock.Advance(time.Second)
	r, _ = s.runCloser(s.deps)
	require.Equal(t, stream.CloserResult{Settled: 2, Succeeded: 1, Failed: 1, Examined: 2}, r)
	require.Equal(t, "SUCCEEDED", s.status(enough)["status"])
	require.Equal(t, "FAILED", s.status(alone)["status"])

	succeeded := s.events(event.GroupSucceeded)
	require.Len(t, succeeded, 1)
	require.Equal(t, enough, succeeded[0].Data["groupId"])
	require.Equal(t, "tpl-v", succeeded[0].Data["voucherTemplateId"])
	prices := map[string]float64{}
	for _, m := range succeeded[0].Data["members"].([]any) {
		m := m.(map[string]any)
		prices[m["userId"].(string)] = toFloat(m["priceFen"])
	}
	require.Equal(t, map[string]float64{"leader": 999900, "friend": 1299900}, prices)
	_, taken := s.seatShards("clinic-a", "trio")
	require.Equal(t, 2, sum(taken), "a succeeded room keeps its seats")
}

// Two closers at once over the same 200 expired rooms settle each room once,
// with one event each.
func TestTwoClosersAtOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream()) // no stream read, many items written
	clock := s.withClock()
	s.deal("clinic-a", "duo", map[string]any{"groupSize": 2, "stock": 200, "ttlSeconds": 60})
	replies := s.concurrently(200, func(i int) call {
		return call{fn: "groupbuy", route: "POST /v1/groups", as: patient("clinic-a", fmt.Sprintf("p%03d", i)), body: `{"dealId":"duo"}`}
	})
	require.Equal(t, map[int]int{201: 200}, statuses(replies))
	_, taken := s.seatShards("clinic-a", "duo")
	require.Equal(t, 200, sum(taken))

	clock.Advance(time.Hour)
	var results [2]stream.CloserResult
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = s.runCloser(s.deps)
		}()
	}
	wg.Wait()
	require.Equal(t, 200, results[0].Settled+results[1].Settled, "%+v", results)
	require.Equal(t, 200, results[0].Failed+results[1].Failed)
	require.Zero(t, results[0].Errors+results[1].Errors)

	failed := s.events(event.GroupFailed)
	require.Len(t, failed, 200, "one event per room")
	rooms := map[string]bool{}
	for _, e := range failed {
		rooms[e.Data["groupId"].(string)] = true
	}
	require.Len(t, rooms, 200)
	_, taken = s.seatShards("clinic-a", "duo")
	require.Zero(t, sum(taken), "every seat back once, none twice")

	again, _ := s.runCloser(s.deps)
	require.Zero(t, again.Settled)
	require.Len(t, s.events(event.GroupFailed), 200)
}

// A join racing the expiry moment is either in (and then in the settlement)
// or refused with GROUP_CLOSED; a room never changes after settling. The
// joins run in a function whose clock is a millisecond before expiry, the
// closer in one a millisecond after, as two Lambda functions may.
func TestJoinRacingExpiry(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream()) // no stream read, many items written
	clock := s.withClock()
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "minSize": 2, "stock": 1000, "ttlSeconds": 60})
	const rooms = 40
	ids := make([]string, rooms)
	for i := range ids {
		ids[i] = s.opened(patient("clinic-a", fmt.Sprintf("leader-%02d", i)), "trio")
	}
	expiry := clock.Now().Add(60 * time.Second)

	joinSide := app.DepsWith(s.deps.Store.DB, s.deps.Config, logging.Discard())
	joinSide.Now = func() time.Time { return expiry.Add(-time.Millisecond) }
	s.apis["groupbuy-before-expiry"] = GroupBuy(joinSide)
	clock.Set(expiry.Add(time.Millisecond))

	var joins []reply
	var closers [2]stream.CloserResult
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		joins = s.concurrently(rooms, func(i int) call {
			return call{fn: "groupbuy-before-expiry", route: "POST /v1/groups/{groupId}/join",
				as: patient("clinic-a", fmt.Sprintf("joiner-%02d", i)), params: map[string]string{"groupId": ids[i]}}
		})
	}()
	for i := range closers {
		go func() {
			defer wg.Done()
			closers[i], _ = s.runCloser(s.deps)
		}()
	}
	wg.Wait()
	if closers[0].Settled+closers[1].Settled < rooms {
		r, _ := s.runCloser(s.deps) // rooms joined after both runs listed them
		closers[0].Settled += r.Settled
	}
	require.Equal(t, rooms, closers[0].Settled+closers[1].Settled)

	settled := map[string]event.Event{}
	for _, e := range s.events(event.GroupSucceeded, event.GroupFailed) {
		_, dup := settled[e.Data["groupId"].(string)]
		require.False(t, dup, "settled twice")
		settled[e.Data["groupId"].(string)] = e
	}
	seats := 0
	for i, r := range joins {
		room := s.status(ids[i])
		e := settled[ids[i]]
		switch r.Status {
		case 200:
			require.Equal(t, "SUCCEEDED", room["status"], "joined in time, so in the settlement")
			require.Equal(t, event.GroupSucceeded, e.Type)
			require.Len(t, e.Data["members"], 2)
			seats += 2
		case 409:
			require.Equal(t, "GROUP_CLOSED", r.Code(t))
			require.Equal(t, "FAILED", room["status"])
			require.Equal(t, event.GroupFailed, e.Type)
			require.Len(t, room["members"], 1, "no member after settling")
		default:
			t.Fatalf("join %d: %d %s", i, r.Status, r.Body)
		}
	}
	_, taken := s.seatShards("clinic-a", "trio")
	require.Equal(t, seats, sum(taken))
	t.Logf("joins in before the closer: %d of %d", seats/2, rooms)
}

// With 10,000 rooms still open and 50 expired, the closer reads the 50: its
// work grows with expired rooms, not with all rooms.
func TestCloserReadsOnlyDueRooms(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream()) // no stream read, many items written
	clock := s.withClock()
	s.deal("clinic-a", "duo", map[string]any{"groupSize": 2, "stock": 100, "ttlSeconds": 60})
	for i := 0; i < 50; i++ {
		s.opened(patient("clinic-a", fmt.Sprintf("p%02d", i)), "duo")
	}
	s.seedOpenRooms(10_000, clock.Now().Add(24*time.Hour))

	clock.Advance(61 * time.Second)
	r, calls := s.runCloser(s.deps)
	require.Equal(t, 50, r.Settled)
	require.Equal(t, 50, r.Examined, "index entries read: the due rooms only")
	// One Query per expiry shard, one GetItem per due room, one write each;
	// plus one Query per hold shard for the reward release of the same run.
	require.LessOrEqual(t, calls.Reads(), 16+50+4+2, "reads: %d", calls.Reads())
	require.Equal(t, 50, calls.Writes())
}

// seedOpenRooms writes n open rooms that expire at exp straight into the
// table (BatchWriteItem), to give the expiry index a realistic crowd.
func (s *stack) seedOpenRooms(n int, exp time.Time) {
	s.t.Helper()
	at := exp.UTC().Format("2006-01-02T15:04:05Z")
	batches := make(chan []types.WriteRequest)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reqs := range batches {
				for len(reqs) > 0 {
					out, err := s.db.Client.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
						RequestItems: map[string][]types.WriteRequest{s.db.Table: reqs},
					})
					if err != nil {
						errs <- err
						for range batches { // drain, so the writer never blocks
						}
						return
					}
					reqs = out.UnprocessedItems[s.db.Table]
				}
			}
		}()
	}
	var batch []types.WriteRequest
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("SEED%08d", i)
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"pk":        &typesS{Value: "GROUP#" + id},
			"sk":        &typesS{Value: "_"},
			"kind":      &typesS{Value: "groupRoom"},
			"groupId":   &typesS{Value: id},
			"tenant":    &typesS{Value: "clinic-a"},
			"status":    &typesS{Value: "OPEN"},
			"expiresAt": &typesS{Value: at},
			"expShard":  &typesS{Value: fmt.Sprintf("EXP#%02d", i%16)},
			"expAt":     &typesS{Value: at},
		}}})
		if len(batch) == 25 {
			batches <- batch
			batch = nil
		}
	}
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	close(errs)
	require.NoError(s.t, <-errs)

	indexed := 0
	p := dynamodb.NewScanPaginator(s.db.Client, &dynamodb.ScanInput{
		TableName: aws.String(s.db.Table), IndexName: aws.String("Expiring"), Select: types.SelectCount,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(s.t, err)
		indexed += int(page.Count)
	}
	require.GreaterOrEqual(s.t, indexed, n, "the seeded rooms are on the index")
}

// A run that stops partway (its bound, its deadline, a crash) leaves the
// rest on the expiry index, and the next run settles them.
func TestCloserStopsAndResumes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.deal("clinic-a", "duo", map[string]any{"groupSize": 2, "stock": 100, "ttlSeconds": 60})
	for i := 0; i < 25; i++ {
		s.opened(patient("clinic-a", fmt.Sprintf("p%02d", i)), "duo")
	}
	clock.Advance(time.Hour)
	svc := s.deps.Groups()
	first, err := svc.CloseExpired(context.Background(), groupbuy.CloseOptions{MaxRooms: 10, Workers: 3})
	require.NoError(t, err)
	require.Equal(t, 10, first.Settled)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // dies before it starts
	dead, _ := svc.CloseExpired(ctx, groupbuy.CloseOptions{})
	require.Zero(t, dead.Settled)

	rest, _ := s.runCloser(s.deps)
	require.Equal(t, 15, rest.Settled)
	require.Len(t, s.events(event.GroupFailed), 25)
}
