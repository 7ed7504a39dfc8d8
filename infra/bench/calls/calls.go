// Package calls measures how many DynamoDB calls each route of the HTTP API
// makes, reads and writes apart, counted by the middleware of
// shared/dynamo (dynamo.Calls) while the functions' handlers serve real
// requests against DynamoDB Local.
//
// The goals (docs/DESIGN.md, Data rules and Performance): a write route makes
// one write call and at most one read; a read route makes one call. Each
// route is measured three ways: cold (the first request of a new execution
// environment, nothing cached), warm (the next request, configuration
// cached) and, for write routes, warm with an Idempotency-Key. The goal is
// judged on all three: a key's record belongs in the route's own write, so
// a keyed write has the same budget as one without a key.
//
// Every route must have a Scenario; a route without one is reported as not
// measured, and the package's tests fail.
package calls

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/google/uuid"

	"github.com/laoyou/laoyou/infra/bench/apistack"
)

// Count is the calls of one request.
type Count struct {
	Reads, Writes int
	Ops           []string // the operations in order: GetItem, TransactWriteItems, ...
}

// Calls is all calls, reads and writes.
func (c Count) Calls() int { return c.Reads + c.Writes }

// Row is one route's figures.
type Row struct {
	Route    apistack.Route
	Scenario *Scenario // nil: not measured
	Cold     Count
	Warm     Count
	Keyed    *Count // warm with an Idempotency-Key; nil for read routes
}

// Measured reports whether the route had a scenario.
func (r Row) Measured() bool { return r.Scenario != nil }

// MeetsGoal reports whether a count is within the route's budget: one
// write and at most one read for a write route (no read where the scenario
// says WriteOnly), at most one call for a read route (none when served
// from a cache).
func (r Row) MeetsGoal(c Count) bool {
	if r.Route.Writes() {
		maxReads := 1
		if r.Scenario != nil && r.Scenario.WriteOnly {
			maxReads = 0
		}
		return c.Writes == 1 && c.Reads <= maxReads
	}
	return c.Calls() <= 1
}

// GoalMet reports whether the route was measured and met its goal cold,
// warm and, for a write route, warm with an Idempotency-Key.
func (r Row) GoalMet() bool {
	return r.Measured() && r.MeetsGoal(r.Cold) && r.MeetsGoal(r.Warm) && r.KeyedMeetsGoal()
}

// KeyedMeetsGoal reports whether the keyed request kept within the route's
// budget (true for a read route, which takes no key).
func (r Row) KeyedMeetsGoal() bool { return r.Keyed == nil || r.MeetsGoal(*r.Keyed) }

// Figures are the results of one Measure.
type Figures struct {
	Rows []Row // one per route, by route key
	// Stale are scenarios whose route no function serves any more.
	Stale []string
}

// GoalsMet reports whether every route was measured and met its goal.
func (f Figures) GoalsMet() bool {
	for _, r := range f.Rows {
		if !r.GoalMet() {
			return false
		}
	}
	return len(f.Stale) == 0
}

// Coverage pairs routes with scenarios: the scenario of each route (nil
// where there is none) and the routes of scenarios that match no route.
func Coverage(routes []apistack.Route, scenarios []Scenario) (rows []Row, stale []string) {
	byRoute := map[string]*Scenario{}
	for i := range scenarios {
		byRoute[scenarios[i].Route] = &scenarios[i]
	}
	served := map[string]bool{}
	for _, r := range routes {
		rows = append(rows, Row{Route: r, Scenario: byRoute[r.Key]})
		served[r.Key] = true
	}
	for _, s := range scenarios {
		if !served[s.Route] {
			stale = append(stale, s.Route)
		}
	}
	sort.Strings(stale)
	return rows, stale
}

// Measure runs every scenario on a new table of db.
func Measure(ctx context.Context, db *apistack.DB, progress io.Writer) (Figures, error) {
	if progress == nil {
		progress = io.Discard
	}
	var f Figures
	err := db.WithTable(ctx, func(t *apistack.Table) error {
		s, err := apistack.NewStack(ctx, t)
		if err != nil {
			return err
		}
		w, err := newWorld(ctx, s)
		if err != nil {
			return fmt.Errorf("calls: setting up: %w", err)
		}
		f.Rows, f.Stale = Coverage(s.Routes(), Scenarios)
		for i := range f.Rows {
			row := &f.Rows[i]
			if !row.Measured() {
				fmt.Fprintf(progress, "calls: %s: NOT MEASURED (no scenario)\n", row.Route.Key)
				continue
			}
			if err := measureRoute(ctx, w, row); err != nil {
				return fmt.Errorf("calls: %s: %w", row.Route.Key, err)
			}
			fmt.Fprintf(progress, "calls: %s: cold %d reads %d writes, warm %d reads %d writes\n",
				row.Route.Key, row.Cold.Reads, row.Cold.Writes, row.Warm.Reads, row.Warm.Writes)
		}
		return nil
	})
	return f, err
}

// measureRoute sends the scenario's requests 0, 1 and 2 to one new
// execution environment: the first finds nothing cached, the second what
// the first cached, the third carries an Idempotency-Key.
func measureRoute(ctx context.Context, w *World, row *Row) error {
	env := w.Setup.Fresh()
	type variant struct {
		into  *Count
		keyed bool
	}
	variants := []variant{{into: &row.Cold}, {into: &row.Warm}}
	if row.Route.TakesKey() {
		row.Keyed = &Count{}
		variants = append(variants, variant{into: row.Keyed, keyed: true})
	}
	for n, v := range variants {
		req, err := row.Scenario.Request(ctx, w, n)
		if err != nil {
			return fmt.Errorf("setting up request %d: %w", n, err)
		}
		if v.keyed {
			req.IdempotencyKey = "bench-" + uuid.NewString()
		}
		rep, err := env.Do(ctx, req)
		if err != nil {
			return err
		}
		if rep.Status != row.Scenario.Status {
			return fmt.Errorf("request %d answered %d, not %d: %s", n, rep.Status, row.Scenario.Status, rep.Body)
		}
		*v.into = Count{Reads: rep.Calls.Reads(), Writes: rep.Calls.Writes(), Ops: rep.Calls.Ops()}
	}
	return nil
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("calls: " + err.Error())
	}
	return string(b)
}
