package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/stream"
)

// chaosRun is the size and the faults of one chaos run.
type chaosRun struct {
	seed        uint64
	requests    int // drawn by the workers; races add a few more
	rounds      int // the clock moves on between rounds
	workers     int
	patients    int
	rates       Rates
	sdkAttempts int     // per DynamoDB call, as the SDK's retryer makes them
	dropRate    float64 // answers lost on the way to the client
}

// clientAttempts is how often a client tries one request: its pauses add
// up to more than an invocation deadline.
const clientAttempts = 12

// defaultRates fail about one DynamoDB attempt in seven.
var defaultRates = Rates{Throttle: 0.04, Conflict: 0.05, Timeout: 0.02, CommittedReset: 0.02, CommittedTimeout: 0.02}

// chaosRunFromEnv is the default run (about a minute on two cores), or a
// larger one: CHAOS_REQUESTS, CHAOS_SEED and CHAOS_SCALE (a factor on the
// fault rates) change it.
func chaosRunFromEnv(t *testing.T) chaosRun {
	r := chaosRun{seed: 42, requests: 900, rounds: 6, workers: 6, patients: 150, rates: defaultRates, sdkAttempts: 2, dropRate: 0.03}
	num := func(name string) (float64, bool) {
		v := os.Getenv(name)
		if v == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, name)
		return f, true
	}
	if n, ok := num("CHAOS_REQUESTS"); ok {
		r.requests = int(n)
		r.rounds = max(r.rounds, r.requests/200)
		r.patients = max(r.patients, r.requests/8)
	}
	if n, ok := num("CHAOS_SEED"); ok {
		r.seed = uint64(n)
	}
	if n, ok := num("CHAOS_SCALE"); ok {
		r.rates = r.rates.Scaled(n)
	}
	return r
}

// TestChaos drives every function of Laoyou, in this process, over one
// table in DynamoDB Local whose client fails on purpose: throttles,
// transaction conflicts, timeouts, and writes that commit while their
// reply is lost. Clients retry as phones do, with the same Idempotency-Key.
// Two hooks functions read the stream, so every event is delivered at
// least twice, and the closer runs on a clock that moves on, sometimes
// twice at once. Between rounds and at the end the table is held to every
// invariant of docs/DESIGN.md, and to what the clients were told.
func TestChaos(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a minute of load; not with -short")
	}
	run := chaosRunFromEnv(t)
	db := ddbtest.New(t)
	faults := New(run.seed, run.rates)
	sys := newSystem(db.Endpoint, db.Table, db.NewClient(t, faults.Option, FastRetries(run.sdkAttempts)), db.Client)
	setUp(t, newSystem(db.Endpoint, db.Table, db.Client, db.Client))

	// A second warm hooks function with caches of its own, on the same
	// faulty DynamoDB, reading the same stream.
	twin := app.DepsWith(db.NewClient(t, faults.Option, FastRetries(run.sdkAttempts)), sys.deps.Config, logging.Discard())
	twin.Now = sys.clock.Now
	consumers := []*hooksConsumer{sys.newHooksConsumer(t, sys.deps), sys.newHooksConsumer(t, twin)}

	w := newWorld(run.patients, 3)
	log := &ledger{}
	ops := operations()
	var closer closerTally
	perWorker := run.requests / run.rounds / run.workers
	for round := range run.rounds {
		started := time.Now()
		ctx, stop := context.WithCancel(context.Background())
		var background sync.WaitGroup
		for _, h := range consumers {
			background.Go(func() {
				for ctx.Err() == nil {
					_, _ = h.poller.PollOnce(ctx)
					sleep(ctx, 50*time.Millisecond)
				}
			})
		}
		background.Go(func() {
			for tick := 0; ctx.Err() == nil; tick++ {
				sleep(ctx, 250*time.Millisecond)
				sys.clock.Advance(3 * time.Second) // joins race the expiry
				closer.run(sys, 1+tick%3/2)        // every third run has a twin
			}
		})
		var workers sync.WaitGroup
		for i := range run.workers {
			c := &client{sys: sys, rng: rand.New(rand.NewPCG(run.seed, uint64(round*run.workers+i))), dropRate: run.dropRate, maxAttempts: clientAttempts, log: log}
			workers.Go(func() { worker(context.Background(), c, w, ops, perWorker) })
		}
		workers.Wait()
		stop()
		background.Wait()
		sys.clock.Advance(20 * time.Second)

		// Nothing is in flight: whatever happened so far must hold.
		tab, err := Scan(context.Background(), db.Client, db.Table)
		require.NoError(t, err)
		require.Empty(t, tab.Check(Settled{}), "after round %d", round+1)
		t.Logf("round %d: %d requests answered so far, %d items; %v", round+1, len(log.all()), tab.Items, time.Since(started).Round(time.Millisecond))
	}
	started := time.Now()

	// Every room expires; the closer settles them all and the hooks
	// functions catch up, faults and all.
	sys.clock.Advance(10 * time.Minute)
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 30, "the closer keeps failing")
		if settled, clean := closer.run(sys, 1); settled == 0 && clean {
			break
		}
	}
	for _, h := range consumers {
		require.True(t, h.drain(context.Background(), 300), "the stream never went quiet")
	}
	t.Logf("settled: %v", time.Since(started).Round(time.Millisecond))

	tab, err := Scan(context.Background(), db.Client, db.Table)
	require.NoError(t, err)
	violations := tab.Check(Settled{Rooms: true, Stream: true})
	seen, gone := checkLedger(tab, log.all())
	violations = append(violations, seen...)
	t.Log(report(run, log.figures(), faults.Stats(), &closer, tab, gone, violations))
	require.Empty(t, violations)
	require.Positive(t, tab.Counts()["rooms.succeeded"], "the run exercised rooms")
	require.Positive(t, tab.Counts()["coupons.redeemed"], "the run exercised redemptions")
}

// closerTally counts the closer's runs.
type closerTally struct {
	mu                                 sync.Mutex
	runs, settled, succeeded, failed   int
	errors, skipped, incomplete, twice int
}

// run invokes the closer, n at once: how many rooms they settled, and
// whether each did all that was due.
func (c *closerTally) run(sys *system, n int) (settled int, clean bool) {
	var wg sync.WaitGroup
	results := make([]stream.CloserResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			results[i], errs[i] = sys.closer(ctx, nil)
		})
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > 1 {
		c.twice++
	}
	clean = true
	for i, r := range results {
		c.runs++
		c.settled += r.Settled
		c.succeeded += r.Succeeded
		c.failed += r.Failed
		c.errors += r.Errors
		c.skipped += r.Skipped
		if errs[i] != nil {
			c.incomplete++
		}
		settled += r.Settled
		clean = clean && errs[i] == nil && r.Errors == 0
	}
	return settled, clean
}

// countsOf lists counts in key order: "a 1, b 2".
func countsOf(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// report is the run's figures, as RELIABILITY.md quotes them.
func report(run chaosRun, f figures, s Stats, c *closerTally, tab *Table, gone unseen, violations []Violation) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	kinds := func(m map[Kind]int64) string {
		var parts []string
		for _, k := range Kinds {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
		return strings.Join(parts, ", ")
	}
	line("")
	line("chaos run: seed %d, %d workers, %d rounds, %d patients; fault rates %+v; SDK attempts %d; %.0f%% of answers lost",
		run.seed, run.workers, run.rounds, run.patients, run.rates, run.sdkAttempts, run.dropRate*100)
	line("requests by operation: %s", countsOf(f.ops))
	line("final answers: %s", countsOf(f.answers))
	line("client attempts %d: 5xx retried %d, lost answers retried %d, REQUEST_IN_PROGRESS waited out %d, retries answered otherwise after a lost answer %d",
		f.attempts, f.failed, f.dropped, f.busy, f.differing)
	line("clients gave up after %d attempts: %s", clientAttempts, countsOf(f.gaveUp))
	line("DynamoDB attempts %d; faults injected %d: %s", s.Attempts, Total(s.Injected), kinds(s.Injected))
	line("faults surfaced to Laoyou's code after the SDK's retries %d: %s", Total(s.Surfaced), kinds(s.Surfaced))
	line("closer runs %d (%d with a twin at once): settled %d (succeeded %d, failed %d), skipped %d, rooms left for the next run %d, incomplete runs %d",
		c.runs, c.twice, c.settled, c.succeeded, c.failed, c.skipped, c.errors, c.incomplete)
	line("table: %s", countsOf(tab.Counts()))
	line("changes made but not acknowledged (the reply was a 5xx or lost, and the retry was refused or did it again): %s", countsOf(gone))
	line("violations: %d", len(violations))
	for _, v := range violations {
		line("  %s", v)
	}
	return b.String()
}
