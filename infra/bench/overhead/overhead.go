// Package overhead measures what Laoyou's code adds to a join beyond the
// DynamoDB calls it makes.
//
// A join through the whole handler (the API Gateway event decoded, the
// caller taken from the JWT claims, the Idempotency-Key claimed and its
// response stored, the room read, the domain's decision, the transaction,
// the answer encoded) is timed against the same GetItem and
// TransactWriteItems issued bare, with the same client, against the same
// DynamoDB Local, interleaved in one run.
//
// Every join goes to a room of its own, opened beforehand with only its
// leader in it, in rooms of three: every join is then the same work (a
// room of one member becomes two, never full, never contended), whichever
// side makes it. Joining one room again and again would grow its roster
// and end in the filling join, which writes more; the sides would not do
// equal work.
//
// The goal (docs/DESIGN.md, Performance): the handler's median, with an
// Idempotency-Key, at most 1.15 times the bare calls'.
package overhead

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/samples"
)

// MaxRatio is the goal: the handler's median over the bare calls'.
const MaxRatio = 1.15

// DefaultRounds is how many rounds are measured when Options.Rounds is 0;
// a tenth as many go first, unmeasured (at most 10), while DynamoDB Local's
// JVM and the connections warm up.
const DefaultRounds = 200

func warmupRounds(rounds int) int { return min(10, max(2, rounds/10)) }

// Options tune Measure.
type Options struct {
	Rounds   int // measured rounds, each one join per side (DefaultRounds if 0)
	Progress io.Writer
}

// Side is one way of making a join, and its times.
type Side struct {
	Name  string
	About string
	Calls string // the DynamoDB calls one join of this side makes
	Times samples.Summary
	Ratio float64 // median over the bare side's median
}

// Figures are the results of one Measure.
type Figures struct {
	Rounds int
	Keyed  Side // the whole handler with an Idempotency-Key: the goal's side
	Plain  Side // the whole handler without one
	Bare   Side
}

// GoalsMet reports whether the handler with a key is within MaxRatio.
func (f Figures) GoalsMet() bool { return f.Keyed.Ratio <= MaxRatio }

const (
	tenant = "bench-clinic"
	deal   = "trio"
)

// joinSide is one side of the comparison: how to prepare one of its joins
// on a room of its own, and the times its joins took.
type joinSide struct {
	side *Side
	// prepare builds, untimed, the join of round i into room; the join it
	// returns is what is timed.
	prepare func(ctx context.Context, room string, i int) (join func(context.Context) error, err error)
	times   []time.Duration
}

// Measure runs the rounds on a new table of db.
func Measure(ctx context.Context, db *apistack.DB, opts Options) (Figures, error) {
	if opts.Rounds <= 0 {
		opts.Rounds = DefaultRounds
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	f := Figures{
		Rounds: opts.Rounds,
		Keyed: Side{Name: "handler, Idempotency-Key",
			About: "the API Gateway event through the groupbuy function's handler, with a new Idempotency-Key"},
		Plain: Side{Name: "handler, no key",
			About: "the same without the key: the handler's own work besides idempotency"},
		Bare: Side{Name: "bare calls",
			About: "the calls the store makes for that join, built beforehand, sent with the same client"},
	}
	err := db.WithTable(ctx, func(t *apistack.Table) error {
		s, err := apistack.NewStack(ctx, t)
		if err != nil {
			return err
		}
		if err := s.PutDeal(ctx, tenant, deal, map[string]any{
			"title": "三人团", "sku": "TRIO", "priceFen": 59900, "groupPriceFen": 39900, "groupSize": 3,
			"ttlSeconds": 86400, "stock": 1_000_000, "perUserLimit": 1, "newcomersOnly": false,
		}); err != nil {
			return err
		}
		return run(ctx, s, &f, opts)
	})
	if err != nil {
		return Figures{}, fmt.Errorf("overhead: %w", err)
	}
	return f, nil
}

func run(ctx context.Context, s *apistack.Stack, f *Figures, opts Options) error {
	handler := func(keyed bool, side *Side) func(ctx context.Context, room string, i int) (func(context.Context) error, error) {
		return func(_ context.Context, room string, i int) (func(context.Context) error, error) {
			req := apistack.JoinRequest(joiner(keyed, i), room)
			if keyed {
				req.IdempotencyKey = uuid.NewString()
			}
			ev := req.Event() // API Gateway's work, not the function's
			return func(ctx context.Context) error {
				rep, err := s.DoEvent(ctx, req.Route, ev)
				if err == nil && side.Calls == "" {
					side.Calls = strings.Join(rep.Calls.Ops(), ", ") // as made, not as assumed
				}
				return joined(rep, err)
			}, nil
		}
	}
	bare := func(ctx context.Context, room string, i int) (func(context.Context) error, error) {
		// The handler builds the calls; captured, its write is not sent.
		cctx, captured := apistack.CaptureCalls(ctx)
		if err := joined(s.Do(cctx, apistack.JoinRequest(apistack.Patient(tenant, fmt.Sprintf("bare-%d", i)), room))); err != nil {
			return nil, err
		}
		calls := captured.Calls()
		if f.Bare.Calls == "" {
			ops := make([]string, len(calls))
			for i, c := range calls {
				ops[i] = c.Op
			}
			f.Bare.Calls = strings.Join(ops, ", ")
		}
		return func(ctx context.Context) error {
			for _, c := range calls {
				if err := s.Send(ctx, c); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	sides := []*joinSide{
		{side: &f.Keyed, prepare: handler(true, &f.Keyed)},
		{side: &f.Plain, prepare: handler(false, &f.Plain)},
		{side: &f.Bare, prepare: bare},
	}

	warmup := warmupRounds(opts.Rounds)
	total := warmup + opts.Rounds
	fmt.Fprintf(opts.Progress, "overhead: opening %d rooms\n", total*len(sides))
	type prepared struct{ joins []func(context.Context) error }
	rounds := make([]prepared, total)
	for r := range rounds {
		for i, sd := range sides {
			room, err := s.OpenRoom(ctx, apistack.Patient(tenant, fmt.Sprintf("leader-%d-%d", r, i)), deal)
			if err != nil {
				return err
			}
			join, err := sd.prepare(ctx, room, r)
			if err != nil {
				return err
			}
			rounds[r].joins = append(rounds[r].joins, join)
		}
	}

	fmt.Fprintf(opts.Progress, "overhead: %d rounds (%d unmeasured)\n", total, warmup)
	for r, round := range rounds {
		// Each side goes first, second and third in turn.
		for k := range sides {
			i := (r + k) % len(sides)
			start := time.Now()
			if err := round.joins[i](ctx); err != nil {
				return fmt.Errorf("%s, round %d: %w", sides[i].side.Name, r, err)
			}
			if r >= warmup {
				sides[i].times = append(sides[i].times, time.Since(start))
			}
		}
	}
	for _, sd := range sides {
		sd.side.Times = samples.Summarize(sd.times)
	}
	for _, sd := range sides {
		sd.side.Ratio = samples.Ratio(sd.side.Times.Median, f.Bare.Times.Median)
	}
	return nil
}

// joiner is the patient who makes a side's join in round i.
func joiner(keyed bool, i int) apistack.Claims {
	if keyed {
		return apistack.Patient(tenant, fmt.Sprintf("keyed-%d", i))
	}
	return apistack.Patient(tenant, fmt.Sprintf("plain-%d", i))
}

// joined is nil for a join that took its seat.
func joined(rep apistack.Reply, err error) error {
	if err == nil && rep.Status != http.StatusOK {
		err = fmt.Errorf("join answered %d: %s", rep.Status, rep.Body)
	}
	return err
}
