// Package hotkeys measures how hot DynamoDB partition keys run in a
// campaign spike: 20,000 joins per second on one deal, and 20,000 claims
// per second on one coupon template (docs/DESIGN.md, Scale on AWS: one
// partition key takes at most 1,000 write capacity units a second).
//
// The keys come from a recorded trace: real joins (with the opens of their
// rooms) and real claims through the functions' handlers against DynamoDB
// Local, every item they write recorded with its partition key; then the
// events they wrote handed to the hooks function in stream batches as its
// event source would, and its writes recorded too (counters fed from the
// stream, markers, vouchers, gifts). The trace is then played at the
// spike's rate: it covers a fraction of a second, so one second holds that
// many copies of it. Keys shared by every request (the deal's seat shards,
// the template's stock shards, the tenant's partition) are the same in
// every copy; keys of one room, person, event or coupon are new in each.
// So a shared key's writes per second are its share of the trace's writes
// times the rate, and anyone else's are their writes in the trace.
//
// Which seat or stock shard a request takes is a random choice of the
// domain; a trace of hundreds samples it too thinly for the busiest of up
// to 96 seat (64 stock) shards, so those counts come from the real services choosing for a whole
// second's requests (see picks.go).
//
// Write capacity: an item write takes 1 WCU per started KB, twice that in a
// transaction; the goal is judged on WCU per second, the busiest key's
// under 1,000. Item sizes are those of the items written (puts) or as they
// ended (updates); a ConditionCheck is counted as a write, to be safe. A
// write DynamoDB refused is counted too, since it costs capacity.
package hotkeys

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/shared/dynamo"
)

// MaxKeyWCU is the goal: a partition key's write capacity per second.
const MaxKeyWCU = 1000

// Options size the traces; zero values take the defaults.
type Options struct {
	Rooms       int     // rooms of two opened and filled in the deal's trace (300)
	Claims      int     // claims in the template's trace (600)
	Rate        float64 // joins, or claims, per second in the spike (20,000)
	Concurrency int     // requests in flight while recording (32)
	Progress    io.Writer
}

func (o *Options) defaults() {
	if o.Rooms <= 0 {
		o.Rooms = 300
	}
	if o.Claims <= 0 {
		o.Claims = 600
	}
	if o.Rate <= 0 {
		o.Rate = 20_000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Figures are the results of one Measure.
type Figures struct {
	Rate      float64
	BatchSize int // the hooks' stream batch size, from template.yaml
	Deal      Spike
	Template  Spike
}

// GoalsMet reports whether the busiest key of both spikes is under
// MaxKeyWCU.
func (f Figures) GoalsMet() bool { return f.Deal.GoalMet() && f.Template.GoalMet() }

// Spike is one spike's keys.
type Spike struct {
	Name       string // "joins on one deal"
	Ops        int    // joins or claims in the trace
	Opens      int    // rooms opened for the joins (the deal's trace)
	ItemWrites int    // items the requests wrote
	HookWrites int    // items the hooks wrote for their events
	Batches    int    // stream batches handed to the hooks
	Events     int    // events in them
	Families   []Family
	Busiest    Key // by WCU per second
}

// GoalMet reports whether the spike's busiest key stays under MaxKeyWCU.
func (s Spike) GoalMet() bool { return s.Busiest.WCU < MaxKeyWCU }

// Family is one kind of key and its busiest key.
type Family struct {
	family
	Keys        int     // distinct keys of the kind in the second
	TraceWrites int     // item writes to keys of the kind in the trace
	PerOp       float64 // those writes per join or claim
	Busiest     Key
}

// Key is one partition key's load in the simulated second.
type Key struct {
	PK     string
	Writes float64 // item writes per second
	WCU    float64 // write capacity units per second
}

const (
	tenant      = "bench-clinic"
	hotDeal     = "duo"
	hotTemplate = "flash"
)

// Measure records both traces on a new table of db and plays them at the
// rate.
func Measure(ctx context.Context, db *apistack.DB, opts Options) (Figures, error) {
	opts.defaults()
	f := Figures{Rate: opts.Rate, BatchSize: hooksBatchSize(db)}
	err := db.WithTable(ctx, func(t *apistack.Table) error {
		s, err := apistack.NewStack(ctx, t)
		if err != nil {
			return err
		}
		if err := setUp(ctx, s); err != nil {
			return fmt.Errorf("setting up: %w", err)
		}

		fmt.Fprintf(opts.Progress, "hotkeys: %d rooms of 2 opened and filled on one deal\n", opts.Rooms)
		rooms := make([]string, opts.Rooms)
		dealTrace, err := record(ctx, s, f.BatchSize, func() error {
			err := apistack.Parallel(ctx, opts.Rooms, opts.Concurrency, func(i int) (err error) {
				rooms[i], err = s.OpenRoom(ctx, apistack.Patient(tenant, fmt.Sprintf("leader-%d", i)), hotDeal)
				return err
			})
			if err != nil {
				return err
			}
			return apistack.Parallel(ctx, opts.Rooms, opts.Concurrency, func(i int) error {
				_, err := s.Must(ctx, apistack.JoinRequest(apistack.Patient(tenant, fmt.Sprintf("joiner-%d", i)), rooms[i]), http.StatusOK)
				return err
			})
		})
		if err != nil {
			return err
		}

		fmt.Fprintf(opts.Progress, "hotkeys: %d claims of one template\n", opts.Claims)
		tplTrace, err := record(ctx, s, f.BatchSize, func() error {
			return apistack.Parallel(ctx, opts.Claims, opts.Concurrency, func(i int) error {
				_, err := s.Claim(ctx, apistack.Patient(tenant, fmt.Sprintf("claimer-%d", i)), hotTemplate)
				return err
			})
		})
		if err != nil {
			return err
		}

		fmt.Fprintln(opts.Progress, "hotkeys: a second of shard choices by the services")
		seats, err := simulateSeats(ctx, s, rooms[0], int(opts.Rate))
		if err != nil {
			return err
		}
		stock, err := simulateStock(ctx, s, int(opts.Rate))
		if err != nil {
			return err
		}
		sizes, err := finalSizes(ctx, t)
		if err != nil {
			return err
		}
		f.Deal = play("joins on one deal", dealTrace, opts.Rooms, opts.Rooms, opts.Rate, sizes, seats)
		f.Template = play("claims of one coupon template", tplTrace, opts.Claims, 0, opts.Rate, sizes, stock)
		return nil
	})
	if err != nil {
		return Figures{}, fmt.Errorf("hotkeys: %w", err)
	}
	return f, nil
}

// setUp is a clinic as the demo's: a two-person deal with vouchers for its
// members, and a gift to every referee its rooms bind; and a coupon
// template on flash sale. Stock is ample, so no shard runs out.
func setUp(ctx context.Context, s *apistack.Stack) error {
	templates := []struct {
		id   string
		spec map[string]any
	}{
		{"duo-voucher", map[string]any{"title": "双人体验券", "kind": "VOUCHER", "valueFen": 39900, "validDays": 60, "stock": 0, "perUserLimit": 1, "claimable": false}},
		{"newcomer-gift", map[string]any{"title": "上门礼", "kind": "GIFT", "validDays": 30, "stock": 0, "perUserLimit": 1, "claimable": false}},
		{hotTemplate, map[string]any{"title": "限时立减50元", "kind": "CASH", "valueFen": 5000, "validDays": 30, "stock": 1_000_000, "perUserLimit": 1, "claimable": true}},
	}
	for _, t := range templates {
		if err := s.PutTemplate(ctx, tenant, t.id, t.spec); err != nil {
			return err
		}
	}
	if _, err := s.Must(ctx, apistack.Request{
		Route: "PUT /v1/admin/hooks/{ruleId}", Params: map[string]string{"ruleId": "gift-on-bind"},
		As:   apistack.Admin(tenant, "bench-admin"),
		Body: `{"event":"referral.bound","issueCoupon":{"templateId":"newcomer-gift","to":"referee"}}`,
	}, http.StatusOK); err != nil {
		return err
	}
	return s.PutDeal(ctx, tenant, hotDeal, map[string]any{
		"title": "闺蜜卡", "sku": "DUO", "priceFen": 59900, "groupPriceFen": 39900, "groupSize": 2,
		"ttlSeconds": 86400, "stock": 1_000_000, "perUserLimit": 1, "newcomersOnly": false, "voucherTemplateId": "duo-voucher",
	})
}

// hooksBatchSize is the hooks function's stream BatchSize in template.yaml.
func hooksBatchSize(db *apistack.DB) int {
	for _, c := range db.Template.StreamConsumers() {
		if c.Function == "HooksFunction" && c.BatchSize > 0 {
			return c.BatchSize
		}
	}
	return 100 // Lambda's default
}

// simulateSeats counts, per seat shard key, the seats a second of the
// deal's spike takes: as many joins as the rate and as many opens (rooms
// of two), chosen by the real group-buy service.
func simulateSeats(ctx context.Context, s *apistack.Stack, roomID string, joins int) (map[string]int, error) {
	store := dynamo.GroupStore{Store: s.Deps.Store}
	deal, err := store.Deal(ctx, tenant, hotDeal)
	if err != nil || deal == nil {
		return nil, fmt.Errorf("reading the deal back: %v", err)
	}
	room, err := store.Room(ctx, roomID, true)
	if err != nil || room == nil {
		return nil, fmt.Errorf("reading a room back: %v", err)
	}
	// The room is full by now: offer the service the room as it was, open.
	room.Joined, room.Members, room.Status, room.SettledAt = 1, room.Members[:1], "OPEN", nil
	picks, err := seatPicks(ctx, *deal, *room, joins, joins)
	if err != nil {
		return nil, err
	}
	// The store's layout: SEAT#<tenant>#<deal>#<n> (shared/dynamo/groupbuy.go).
	return shardKeys("SEAT#"+tenant+"#"+hotDeal+"#", picks), nil
}

// simulateStock counts, per stock shard key, the units a second of claims
// takes, chosen by the real coupon service.
func simulateStock(ctx context.Context, s *apistack.Stack, claims int) (map[string]int, error) {
	t, err := dynamo.CouponStore{Store: s.Deps.Store}.Template(ctx, tenant, hotTemplate)
	if err != nil || t == nil {
		return nil, fmt.Errorf("reading the template back: %v", err)
	}
	picks, err := stockPicks(ctx, *t, claims)
	if err != nil {
		return nil, err
	}
	// The store's layout: STOCK#<tenant>#<template>#<n> (shared/dynamo/coupon.go).
	return shardKeys("STOCK#"+tenant+"#"+hotTemplate+"#", picks), nil
}

func shardKeys(prefix string, picks map[int]int) map[string]int {
	out := make(map[string]int, len(picks))
	for n, c := range picks {
		out[prefix+strconv.Itoa(n)] = c
	}
	return out
}

// spreadDraw spreads n writes over keys, each to one drawn at random, as
// the store spreads them (a fixed seed: the same trace draws the same).
func spreadDraw(keys []string, n int) map[string]int {
	rng := rand.New(rand.NewPCG(1, 2))
	out := map[string]int{}
	for range n {
		out[keys[rng.IntN(len(keys))]]++
	}
	return out
}

// finalSizes is every item's size as the table holds it at the end, by
// partition and sort key.
func finalSizes(ctx context.Context, t *apistack.Table) (map[string]int, error) {
	items, err := t.Items(ctx)
	if err != nil {
		return nil, err
	}
	sizes := make(map[string]int, len(items))
	for _, it := range items {
		var k struct {
			PK string `dynamodbav:"pk"`
			SK string `dynamodbav:"sk"`
		}
		if err := attributevalue.UnmarshalMap(it, &k); err != nil {
			return nil, err
		}
		sizes[k.PK+"\x00"+k.SK] = itemSize(it)
	}
	return sizes, nil
}

// play plays the trace at rate operations per second (see the package
// comment); drawnShards holds the one-second counts of the drawn shard
// keys.
func play(name string, tr trace, ops, opens int, rate float64, sizes map[string]int, drawnShards map[string]int) Spike {
	drawn := maps.Clone(drawnShards)
	if drawn == nil {
		drawn = map[string]int{}
	}
	sp := Spike{Name: name, Ops: ops, Opens: opens, ItemWrites: len(tr.requests), HookWrites: len(tr.hooks),
		Batches: tr.batches, Events: tr.events}
	copies := rate / float64(ops)

	type load struct {
		writes int
		wcu    float64
	}
	traced := map[string]*load{}
	for _, w := range append(append([]apistack.Write(nil), tr.requests...), tr.hooks...) {
		l := traced[w.PK]
		if l == nil {
			l = &load{}
			traced[w.PK] = l
		}
		size, ok := 0, false
		if w.Item != nil {
			size, ok = itemSize(w.Item), true
		} else {
			size, ok = sizes[w.PK+"\x00"+w.SK]
		}
		if !ok {
			size = 1024 // gone by the end: count a full unit
		}
		l.writes++
		l.wcu += wcu(size, w.Transactional)
	}

	families := map[string]*Family{}
	familyFor := func(pk string) *Family {
		fam := familyOf(pk, tenant)
		f := families[fam.Pattern]
		if f == nil {
			f = &Family{family: fam}
			families[fam.Pattern] = f
		}
		return f
	}
	// busier orders keys by load, then by key, so ties pick the same key
	// whatever the map order.
	busier := func(k, than Key) bool {
		return than.PK == "" || k.WCU > than.WCU || (k.WCU == than.WCU && k.PK < than.PK)
	}
	consider := func(f *Family, k Key) {
		f.Keys++
		if busier(k, f.Busiest) {
			f.Busiest = k
		}
		if busier(k, sp.Busiest) {
			sp.Busiest = k
		}
	}
	drawnWCU := map[string]float64{} // family pattern → WCU of its writes in the trace
	spread := map[string][]string{}  // family pattern → its keys in the trace
	for pk, l := range traced {
		f := familyFor(pk)
		f.TraceWrites += l.writes
		switch {
		case f.Drawn:
			drawnWCU[f.Pattern] += l.wcu
		case f.Spread:
			drawnWCU[f.Pattern] += l.wcu
			spread[f.Pattern] = append(spread[f.Pattern], pk)
		case f.Shared:
			consider(f, Key{PK: pk, Writes: float64(l.writes) * copies, WCU: l.wcu * copies})
		default:
			consider(f, Key{PK: pk, Writes: float64(l.writes), WCU: l.wcu})
		}
	}
	for pattern, keys := range spread {
		sort.Strings(keys)
		for pk, n := range spreadDraw(keys, int(math.Round(float64(families[pattern].TraceWrites)*copies))) {
			drawn[pk] = n
		}
	}
	for pk, n := range drawn {
		f := familyFor(pk)
		perWrite := 2.0 // a transactional write of a small item, if the trace has none
		if f.TraceWrites > 0 {
			perWrite = drawnWCU[f.Pattern] / float64(f.TraceWrites)
		}
		consider(f, Key{PK: pk, Writes: float64(n), WCU: float64(n) * perWrite})
	}
	for _, f := range families {
		f.PerOp = float64(f.TraceWrites) / float64(ops)
		sp.Families = append(sp.Families, *f)
	}
	sort.Slice(sp.Families, func(i, j int) bool {
		a, b := sp.Families[i], sp.Families[j]
		if a.Busiest.WCU != b.Busiest.WCU {
			return a.Busiest.WCU > b.Busiest.WCU
		}
		return a.Pattern < b.Pattern
	})
	return sp
}
