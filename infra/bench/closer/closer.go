// Package closer measures how the closer's reads scale: the items it reads
// to settle N expired rooms among M open ones, for a few (N, M). The goal
// (docs/DESIGN.md, Performance): its work grows with the expired rooms, and not
// with the open ones, because it reads only the due entries of the sparse
// Expiring index.
//
// The expired rooms are opened through the API and left to expire (the
// functions' clock moves past their timer); the open rooms are seeded in
// bulk (BatchWriteItem) as copies of the room item a real open writes, on
// the expiry index like any open room, expiring a day later. The closer
// runs as its schedule runs it, its calls counted (dynamo.Calls) and its
// reads logged with the items they returned, the items they examined
// (ScannedCount) and the read capacity DynamoDB reports.
package closer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/stream"
)

// Pair is one (expired, open) case.
type Pair struct {
	Expired, Open int
}

// DefaultPairs are measured when Options.Pairs is empty.
var DefaultPairs = []Pair{{10, 1000}, {50, 1000}, {10, 5000}, {50, 5000}}

// Options say what to measure.
type Options struct {
	Pairs    []Pair // in order of Open, so open rooms are only ever added
	Progress io.Writer
}

// Run is one closer run's reads and writes.
type Run struct {
	Pair
	Result       stream.CloserResult
	Reads        int     // read calls (dynamo.Calls)
	Writes       int     // write calls
	Queries      int     // Query calls on the Expiring index
	IndexItems   int     // items those Queries examined (ScannedCount)
	GetItems     int     // GetItem calls (a due room read before settling)
	ItemsRead    int     // every item a read call examined
	ReadCapacity float64 // read capacity units DynamoDB reports for them
}

// Figures are the results of one Measure.
type Figures struct {
	Runs []Run
}

const (
	tenant = "bench-clinic"
	deal   = "duo"
	ttl    = 60 * time.Second // the shortest timer a deal may set
)

// Measure runs the pairs on one new table of db, in order of open rooms.
func Measure(ctx context.Context, db *apistack.DB, opts Options) (Figures, error) {
	if len(opts.Pairs) == 0 {
		opts.Pairs = DefaultPairs
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	var f Figures
	err := db.WithTable(ctx, func(t *apistack.Table) error {
		s, err := apistack.NewStack(ctx, t)
		if err != nil {
			return err
		}
		if err := s.PutDeal(ctx, tenant, deal, map[string]any{
			"title": "闺蜜卡", "sku": "DUO", "priceFen": 59900, "groupPriceFen": 39900, "groupSize": 2,
			"ttlSeconds": int(ttl / time.Second), "stock": 1_000_000, "perUserLimit": 1000, "newcomersOnly": false,
		}); err != nil {
			return err
		}
		shape, err := s.CaptureRoom(ctx, apistack.Patient(tenant, "shape"), deal)
		if err != nil {
			return err
		}
		open := 0
		for i, p := range opts.Pairs {
			if p.Open < open {
				return fmt.Errorf("closer: pairs must come in order of open rooms: %d after %d", p.Open, open)
			}
			fmt.Fprintf(opts.Progress, "closer: %d expired among %d open: seeding %d open rooms\n", p.Expired, p.Open, p.Open-open)
			if err := seed(ctx, s, shape, p.Open-open); err != nil {
				return err
			}
			open = p.Open
			r, err := measure(ctx, s, p, i)
			if err != nil {
				return err
			}
			f.Runs = append(f.Runs, r)
		}
		return nil
	})
	if err != nil {
		return Figures{}, fmt.Errorf("closer: %w", err)
	}
	return f, nil
}

// seed adds n open rooms that expire a day from now.
func seed(ctx context.Context, s *apistack.Stack, shape apistack.RoomShape, n int) error {
	exp := s.Clock.Now().Add(24 * time.Hour)
	items := make([]map[string]types.AttributeValue, n)
	for i := range items {
		items[i] = shape.Copy(share.NewCode(share.GroupIDLen), exp)
	}
	return s.Table.PutItems(ctx, items)
}

// measure opens p.Expired rooms, lets them expire and runs the closer.
func measure(ctx context.Context, s *apistack.Stack, p Pair, run int) (Run, error) {
	err := apistack.Parallel(ctx, p.Expired, 8, func(i int) error {
		_, err := s.OpenRoom(ctx, apistack.Patient(tenant, fmt.Sprintf("leader-%d-%d", run, i)), deal)
		return err
	})
	if err != nil {
		return Run{}, err
	}
	s.Clock.Advance(ttl + time.Second)

	closer := s.Fns.Scheduled["CloserFunction"]
	if closer == nil {
		return Run{}, fmt.Errorf("no CloserFunction among the scheduled functions")
	}
	// As Lambda runs it: the template's 50-second timeout.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()
	cctx, calls := dynamo.CountCalls(cctx)
	s.Reads.Start()
	out, err := closer(cctx, json.RawMessage(`{"detail-type":"Scheduled Event","source":"aws.scheduler"}`))
	reads := s.Reads.Stop()
	if err != nil {
		return Run{}, err
	}
	res, ok := out.(stream.CloserResult)
	if !ok {
		return Run{}, fmt.Errorf("the closer answered %T", out)
	}
	if res.Settled != p.Expired || res.Errors > 0 {
		return Run{}, fmt.Errorf("the closer settled %d of %d expired rooms (%d errors)", res.Settled, p.Expired, res.Errors)
	}
	r := Run{Pair: p, Result: res, Reads: calls.Reads(), Writes: calls.Writes()}
	for _, rd := range reads {
		switch {
		case rd.Op == "Query" && rd.Index == "Expiring":
			r.Queries++
			r.IndexItems += rd.Scanned
		case rd.Op == "GetItem":
			r.GetItems++
		}
		r.ItemsRead += rd.Scanned
		r.ReadCapacity += rd.Capacity
	}
	return r, nil
}
