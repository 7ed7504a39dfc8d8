// Package spike measures a campaign spike: thousands of concurrent joins
// and coupon claims through the functions' handlers, over hundreds of rooms
// and templates, with the duplicates real clients send (the same user
// again, the same Idempotency-Key retried), against DynamoDB Local.
//
// Two figures come out. The throughput of the handlers, in operations that
// did their work per second, against the bare rate of the same run: the
// same kinds of DynamoDB calls (a join's GetItem and TransactWriteItems, a
// claim's TransactWriteItems, built by the handlers beforehand with their
// writes captured) sent straight at the same concurrency (goal: at least
// 0.8). And the invariants, checked on the table afterwards: no room over
// its size, nobody twice in a room, seats taken equal to members, coupon
// stock exact, nothing done twice for one key (goal: 0 violations).
//
// The handlers run the spike twice, on rooms and templates of their own:
// with an Idempotency-Key on every request, as a client that retries safely
// sends them (the goal's figure), and with none, to show what the keys
// cost.
package spike

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/shared/share"
)

// The goals.
const (
	MinThroughputRatio = 0.8
	MaxViolations      = 0
)

// Options size the spike; zero values take the defaults.
type Options struct {
	Rooms          int // rooms of each side's deal, opened beforehand (150)
	RoomSize       int // 5
	JoinersPerRoom int // one more than the seats, so every room fills and a join finds it full (RoomSize)
	Templates      int // coupon templates of each side (100)
	Stock          int // coupons per template (8: one stock shard)
	ClaimsPerTpl   int // claimers per template, more than its stock (10)
	DuplicateShare float64
	RetryShare     float64
	Concurrency    int // requests in flight at once (64)
	// Phases alternate the sides, each phase running all three in turn
	// (the first rotating), so that drift in a shared machine's speed hits
	// them alike (4).
	Phases   int
	Progress io.Writer
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Rooms, 150)
	def(&o.RoomSize, 5)
	def(&o.JoinersPerRoom, o.RoomSize)
	def(&o.Templates, 100)
	def(&o.Stock, 8)
	def(&o.ClaimsPerTpl, 10)
	def(&o.Concurrency, 64)
	def(&o.Phases, 4)
	if o.DuplicateShare <= 0 {
		o.DuplicateShare = 0.1
	}
	if o.RetryShare <= 0 {
		o.RetryShare = 0.1
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Figures are the results of one Measure.
type Figures struct {
	Options Options
	Keyed   Side // every request with an Idempotency-Key: the goal's side
	Unkeyed Side // no keys, so no retries with one
	Bare    Bare
}

// Side is one run of the spike through the handlers.
type Side struct {
	Name        string
	Requests    int           // requests answered
	Done        int           // of which did their work: joins 200, claims 201, not replays
	Time        time.Duration // its phases, end to end
	Rate        float64       // Done per second
	RequestRate float64       // Requests per second
	Ratio       float64       // Rate over the bare rate
	Answers     []Answer
	Calls       CallMix // the DynamoDB calls of all its requests
	Checked     Checked
	Violations  []string // every invariant that did not hold, one line each
}

// CallMix is the DynamoDB calls a run made, counted per request by the
// call middleware: what a side's rate costs DynamoDB Local.
type CallMix struct {
	Reads, Writes int
	// TransactionsAgain counts TransactWriteItems sent again within one
	// request: cancelled by a conflicting transaction, or a service's own
	// retry (another seat or stock shard).
	TransactionsAgain int
}

// add counts one request's calls.
func (m *CallMix) add(c callsOf) {
	m.Reads += c.reads
	m.Writes += c.writes
	m.TransactionsAgain += c.transactionsAgain
}

// callsOf is one request's calls.
type callsOf struct{ reads, writes, transactionsAgain int }

func countOps(ops []string) callsOf {
	var c callsOf
	transactions := 0
	for _, op := range ops {
		switch op {
		case "GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems":
			c.reads++
		default:
			c.writes++
		}
		if op == "TransactWriteItems" {
			transactions++
		}
	}
	if transactions > 1 {
		c.transactionsAgain = transactions - 1
	}
	return c
}

// Bare is the bare operations' run.
type Bare struct {
	Ops      int // operations sent, each a join's or a claim's calls
	Calls    CallMix
	Time     time.Duration
	Rate     float64
	Failures int // operations DynamoDB refused (none expected)
}

// Answer counts one kind of answer the handlers gave.
type Answer struct {
	Op     string // join or claim
	Kind   string // original, same user again, same key again
	Status int
	Code   string // the error code, or "replayed" for an idempotent replay
	Count  int
	Calls  CallMix // of all Count requests
}

// Checked is what the invariant check looked at.
type Checked struct {
	Rooms, Members, SeatShards, Templates, Coupons int
}

// GoalsMet reports whether both goals were met, on the keyed side, and no
// invariant failed on either.
func (f Figures) GoalsMet() bool {
	return f.Keyed.Ratio >= MinThroughputRatio && f.Violations() <= MaxViolations && f.Bare.Failures == 0
}

// Violations counts the invariants that failed on both sides.
func (f Figures) Violations() int { return len(f.Keyed.Violations) + len(f.Unkeyed.Violations) }

const (
	tenant   = "bench-clinic"
	bareDeal = "spike-bare"
)

// world is one side's deal and templates.
type world struct {
	deal      string
	tplPrefix string
	keyed     bool
}

var (
	keyedWorld   = world{deal: "spike-keyed", tplPrefix: "ktpl-", keyed: true}
	unkeyedWorld = world{deal: "spike-plain", tplPrefix: "ptpl-"}
)

// Measure runs the spike on a new table of db.
func Measure(ctx context.Context, db *apistack.DB, opts Options) (Figures, error) {
	opts.defaults()
	f := Figures{Options: opts,
		Keyed:   Side{Name: "handlers, every request with an Idempotency-Key"},
		Unkeyed: Side{Name: "handlers, no keys"},
	}
	err := db.WithTable(ctx, func(t *apistack.Table) error {
		s, err := apistack.NewStack(ctx, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.Progress, "spike: setting up %d rooms and %d templates per side\n", opts.Rooms, opts.Templates)
		keyed, err := handlerWork(ctx, s, opts, keyedWorld)
		if err != nil {
			return err
		}
		unkeyed, err := handlerWork(ctx, s, opts, unkeyedWorld)
		if err != nil {
			return err
		}
		bare, err := bareWork(ctx, s, opts)
		if err != nil {
			return err
		}

		answers := map[*Side][]answered{}
		for p := range opts.Phases {
			runs := []func() error{
				func() error {
					fmt.Fprintf(opts.Progress, "spike: phase %d: %d bare operations\n", p+1, len(bare[p]))
					took, failures := runBare(ctx, s, bare[p], opts.Concurrency)
					for _, op := range bare[p] {
						f.Bare.Calls.add(op.calls())
					}
					f.Bare.Ops += len(bare[p])
					f.Bare.Time += took
					f.Bare.Failures += failures
					return nil
				},
				handlerRun(ctx, s, &f.Keyed, keyed[p], answers, opts, p),
				handlerRun(ctx, s, &f.Unkeyed, unkeyed[p], answers, opts, p),
			}
			for i := range runs {
				if err := runs[(i+p)%len(runs)](); err != nil {
					return err
				}
			}
		}
		f.Bare.Rate = float64(f.Bare.Ops) / f.Bare.Time.Seconds()

		fmt.Fprintln(opts.Progress, "spike: checking the invariants")
		items, err := t.Items(ctx)
		if err != nil {
			return err
		}
		for _, side := range []struct {
			side *Side
			w    world
		}{{&f.Keyed, keyedWorld}, {&f.Unkeyed, unkeyedWorld}} {
			sd, a := side.side, answers[side.side]
			sd.Requests = len(a)
			sd.Answers, sd.Done = tally(a)
			for _, x := range a {
				sd.Calls.add(x.calls)
			}
			sd.Rate = float64(sd.Done) / sd.Time.Seconds()
			sd.RequestRate = float64(sd.Requests) / sd.Time.Seconds()
			sd.Ratio = sd.Rate / f.Bare.Rate
			sd.Checked, sd.Violations = check(items, a, opts, side.w)
		}
		return nil
	})
	if err != nil {
		return Figures{}, fmt.Errorf("spike: %w", err)
	}
	return f, nil
}

// handlerRun is one phase of a handler side.
func handlerRun(ctx context.Context, s *apistack.Stack, side *Side, tasks []task, answers map[*Side][]answered, o Options, phase int) func() error {
	return func() error {
		fmt.Fprintf(o.Progress, "spike: phase %d: %d requests through the handlers (%s)\n", phase+1, len(tasks), side.Name)
		a, took, err := runHandlers(ctx, s, tasks, o.Concurrency)
		answers[side] = append(answers[side], a...)
		side.Time += took
		return err
	}
}

// task is one request of the spike.
type task struct {
	op   string // join or claim
	kind string // original, same user again, same key again
	req  apistack.Request
	who  string // user and what they asked for: a duplicate shares it with its original
}

// answered is a task and its answer.
type answered struct {
	task
	status   int
	body     string
	code     string
	replayed bool
	calls    callsOf
}

const (
	original = "original"
	sameUser = "same user again"
	sameKey  = "same key again"
)

// handlerWork sets up a side's deal, rooms and templates and returns its
// requests, shuffled, split into phases by room and template.
func handlerWork(ctx context.Context, s *apistack.Stack, o Options, w world) ([][]task, error) {
	if err := s.PutDeal(ctx, tenant, w.deal, dealSpec(o.Rooms*o.RoomSize, o.RoomSize)); err != nil {
		return nil, err
	}
	rooms := make([]string, o.Rooms)
	err := apistack.Parallel(ctx, o.Rooms, 16, func(i int) (err error) {
		rooms[i], err = s.OpenRoom(ctx, apistack.Patient(tenant, fmt.Sprintf("%s-leader-%d", w.deal, i)), w.deal)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = apistack.Parallel(ctx, o.Templates, 16, func(i int) error {
		return s.PutTemplate(ctx, tenant, fmt.Sprintf("%s%d", w.tplPrefix, i), templateSpec(o.Stock))
	})
	if err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(7, 11))
	phases := make([][]task, o.Phases)
	add := func(phase int, t task) {
		if w.keyed {
			t.req.IdempotencyKey = uuid.NewString()
		}
		phases[phase] = append(phases[phase], t)
		if rng.Float64() < o.DuplicateShare {
			dup := t
			dup.kind = sameUser
			if w.keyed {
				dup.req.IdempotencyKey = uuid.NewString()
			}
			phases[phase] = append(phases[phase], dup)
		}
		if w.keyed && rng.Float64() < o.RetryShare {
			retry := t
			retry.kind = sameKey
			phases[phase] = append(phases[phase], retry)
		}
	}
	for r, room := range rooms {
		for j := range o.JoinersPerRoom {
			user := fmt.Sprintf("%s-joiner-%d-%d", w.deal, r, j)
			add(r%o.Phases, task{op: "join", kind: original, who: user + "@" + room,
				req: apistack.JoinRequest(apistack.Patient(tenant, user), room)})
		}
	}
	for t := range o.Templates {
		tpl := fmt.Sprintf("%s%d", w.tplPrefix, t)
		for c := range o.ClaimsPerTpl {
			user := fmt.Sprintf("%s-claimer-%d-%d", w.deal, t, c)
			add(t%o.Phases, task{op: "claim", kind: original, who: user + "@" + tpl,
				req: apistack.ClaimRequest(apistack.Patient(tenant, user), tpl)})
		}
	}
	for _, p := range phases {
		rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
	}
	return phases, nil
}

func dealSpec(stock, size int) map[string]any {
	return map[string]any{
		"title": "闺蜜团", "sku": "SPIKE", "priceFen": 59900, "groupPriceFen": 39900, "groupSize": size,
		"ttlSeconds": 86400, "stock": stock, "perUserLimit": 1, "newcomersOnly": false,
	}
}

func templateSpec(stock int) map[string]any {
	return map[string]any{
		"title": "限量券", "kind": "CASH", "valueFen": 5000, "validDays": 30,
		"stock": stock, "perUserLimit": 1, "claimable": true,
	}
}

// runHandlers sends the tasks through the handlers, concurrency at a time.
func runHandlers(ctx context.Context, s *apistack.Stack, tasks []task, concurrency int) ([]answered, time.Duration, error) {
	out := make([]answered, len(tasks))
	start := time.Now()
	err := apistack.Parallel(ctx, len(tasks), concurrency, func(i int) error {
		rep, err := s.Do(ctx, tasks[i].req)
		if err != nil {
			return err
		}
		out[i] = answered{task: tasks[i], status: rep.Status, body: rep.Body, code: errorCode(rep.Body),
			replayed: rep.Headers["idempotent-replayed"] == "true", calls: countOps(rep.Calls.Ops())}
		return nil
	})
	return out, time.Since(start), err
}

// bareOp is one operation's DynamoDB calls, built beforehand.
type bareOp []apistack.Call

func (o bareOp) calls() callsOf {
	ops := make([]string, len(o))
	for i, c := range o {
		ops[i] = c.Op
	}
	return countOps(ops)
}

// bareTemplates hold the bare side's claims, with stock to spare so that
// no captured claim meets an empty shard.
const bareTemplates = 20

// bareWork sets up the bare side: as many joins and claims as a handler
// side can do its work for, each built by the handlers with its writes
// captured. A bare join goes to a room of its own, seeded in the shape the
// store writes, since captured joins of one room would all be built
// against its state before any of them.
func bareWork(ctx context.Context, s *apistack.Stack, o Options) ([][]bareOp, error) {
	joins, claims := o.Rooms*(o.RoomSize-1), o.Templates*o.Stock
	// Stock to spare, over the most shards: no captured join meets an
	// empty shard, which the handlers would retry and the bare side cannot.
	if err := s.PutDeal(ctx, tenant, bareDeal, dealSpec(1_000_000, o.RoomSize)); err != nil {
		return nil, err
	}
	shape, err := s.CaptureRoom(ctx, apistack.Patient(tenant, "bare-leader"), bareDeal)
	if err != nil {
		return nil, err
	}
	rooms := make([]string, joins)
	seeded := make([]map[string]types.AttributeValue, joins)
	exp := s.Clock.Now().Add(24 * time.Hour)
	for i := range rooms {
		rooms[i] = share.NewCode(share.GroupIDLen)
		seeded[i] = shape.Copy(rooms[i], exp)
	}
	if err := s.Table.PutItems(ctx, seeded); err != nil {
		return nil, err
	}
	for i := range bareTemplates {
		if err := s.PutTemplate(ctx, tenant, fmt.Sprintf("bare-tpl-%d", i), templateSpec(100_000)); err != nil {
			return nil, err
		}
	}
	ops := make([]bareOp, joins+claims)
	capture := func(i int, req apistack.Request, want int) error {
		cctx, captured := apistack.CaptureCalls(ctx)
		if _, err := s.Must(cctx, req, want); err != nil {
			return err
		}
		ops[i] = captured.Calls()
		return nil
	}
	err = apistack.Parallel(ctx, joins+claims, 16, func(i int) error {
		if i < joins {
			return capture(i, apistack.JoinRequest(apistack.Patient(tenant, fmt.Sprintf("bare-joiner-%d", i)), rooms[i]), http.StatusOK)
		}
		tpl := fmt.Sprintf("bare-tpl-%d", i%bareTemplates)
		return capture(i, apistack.ClaimRequest(apistack.Patient(tenant, fmt.Sprintf("bare-claimer-%d", i)), tpl), http.StatusCreated)
	})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(13, 17))
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	phases := make([][]bareOp, o.Phases)
	for i, op := range ops {
		phases[i%o.Phases] = append(phases[i%o.Phases], op)
	}
	return phases, nil
}

// runBare sends the operations' calls straight, concurrency at a time. It
// counts the operations DynamoDB refused.
func runBare(ctx context.Context, s *apistack.Stack, ops []bareOp, concurrency int) (time.Duration, int) {
	var mu sync.Mutex
	failures := 0
	start := time.Now()
	_ = apistack.Parallel(ctx, len(ops), concurrency, func(i int) error {
		for _, c := range ops[i] {
			if err := s.Send(ctx, c); err != nil {
				mu.Lock()
				failures++
				mu.Unlock()
				return nil
			}
		}
		return nil
	})
	return time.Since(start), failures
}
