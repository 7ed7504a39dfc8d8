package chaos

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/ddbtest"
)

// TestDurability runs requests through the functions against DynamoDB
// Local keeping its data on disk, kills DynamoDB with SIGKILL in the middle
// of them and starts it again on the same port and folder. Clients retry
// through the outage with their Idempotency-Keys. Afterwards every request
// that was answered with a 2xx is in the table, before the crash or after
// it, and the table holds to every invariant.
//
// DynamoDB Local answers a TransactWriteItems before it has committed it:
// the transaction's SQLite COMMIT is queued on its one database thread and
// not waited for (its commitTransaction), so SIGKILL can lose a
// transaction already answered. A call DynamoDB Local answers later, sent
// after that answer, ran behind the COMMIT on the same thread. So an answer
// the client kept before the start of the last call answered before the
// kill (flushed) must be in the table; one kept after it, from an attempt
// begun before DynamoDB came back, may have been lost by DynamoDB Local
// and counts as an answer lost (in doubt). Real DynamoDB answers a write
// once it is durable.
//
// It is the one test here that does not run in parallel: its clients must
// outlast a JVM's restart, which TestChaos's load beside it would slow down.
func TestDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of load; not with -short")
	}
	const (
		workers, perWorker = 6, 45
		killAfter          = workers * perWorker * 2 / 5 // requests answered before the crash
	)
	ctx := context.Background()
	inst, err := ddblocal.Start(ctx, ddblocal.Options{DBPath: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = inst.Stop() })
	clean, err := ddblocal.NewClient(ctx, inst.Endpoint)
	require.NoError(t, err)
	const table = "laoyou-durability"
	require.NoError(t, ddblocal.CreateTable(ctx, clean, ddbtest.Template(t), table))

	var watch flushWatch
	faultless, err := ddblocal.NewClient(ctx, inst.Endpoint, FastRetries(3), watch.Option)
	require.NoError(t, err)
	sys := newSystem(inst.Endpoint, table, faultless, clean)
	sys.timeout = 10 * time.Second // the functions' Timeout in template.yaml: writes to disk are slower
	setUp(t, newSystem(inst.Endpoint, table, clean, clean))
	w := newWorld(80, 2)
	log := &ledger{}

	var answered atomic.Int64
	type restart struct {
		flushed, back time.Time // see above; when DynamoDB Local was serving again
		took          time.Duration
		err           error
	}
	crashed := make(chan restart, 1)
	var workersDone sync.WaitGroup
	for i := range workers {
		// Enough attempts to outlast a JVM's restart.
		c := &client{sys: sys, rng: rand.New(rand.NewPCG(7, uint64(i))), maxAttempts: 25, log: log}
		workersDone.Go(func() {
			for range perWorker {
				worker(ctx, c, w, operations(), 1)
				if answered.Add(1) == killAfter {
					go func() {
						flushed := watch.stop()
						start := time.Now()
						err := inst.Kill()
						if err == nil {
							err = inst.Restart(ctx)
						}
						crashed <- restart{flushed, time.Now(), time.Since(start), err}
					}()
				}
			}
		})
	}
	workersDone.Wait()
	var outage restart
	select {
	case outage = <-crashed:
		require.NoError(t, outage.err, "kill and restart")
	case <-time.After(2 * time.Minute):
		t.Fatal("DynamoDB Local did not come back")
	}
	before := len(log.all())

	// The stream survived the crash too: the hooks function catches up
	// from it and every count fed from it comes out exact.
	hooks := sys.newHooksConsumer(t, sys.deps)
	require.True(t, hooks.drain(ctx, 100), "the stream never went quiet")

	tab, err := Scan(ctx, clean, table)
	require.NoError(t, err)
	violations := tab.Check(Settled{Stream: true})
	outcomes, inDoubt := log.all(), 0
	for i, o := range outcomes {
		if o.ok() && !o.answeredAt.Before(outage.flushed) && o.keptFrom.Before(outage.back) {
			outcomes[i].status, outcomes[i].dropped = 0, o.dropped+1
			inDoubt++
		}
	}
	seen, _ := checkLedger(tab, outcomes)
	violations = append(violations, seen...)
	f := log.figures()
	t.Logf("durability: %d requests (%s), DynamoDB killed after %d answers and back in %v; %d answers in doubt (kept after its last flush); answers %s; 5xx retried %d; table: %s; violations: %d",
		before, countsOf(f.ops), killAfter, outage.took.Round(100*time.Millisecond), inDoubt, countsOf(f.answers), f.failed, countsOf(tab.Counts()), len(violations))
	for _, v := range violations {
		t.Log(v)
	}
	held, _ := checkLedger(tab, log.all())
	for _, v := range held {
		if !slices.Contains(seen, v) {
			t.Logf("in doubt, lost by DynamoDB Local: %v", v)
		}
	}
	require.Empty(t, violations)
	require.Positive(t, f.failed, "some requests met the dead DynamoDB")
	require.Positive(t, f.answers["2xx"])
}

// flushWatch keeps the start of the latest call DynamoDB Local answered
// until stop: every transaction answered before that start was committed
// when the call was served (see TestDurability).
type flushWatch struct {
	mu      sync.Mutex
	stopped bool
	latest  time.Time
}

// Option adds the watch to a client.
func (w *flushWatch) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("DurabilityFlushWatch",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				if err == nil {
					w.served(start)
				}
				return out, md, err
			}), middleware.Before)
	})
}

func (w *flushWatch) served(start time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped && start.After(w.latest) {
		w.latest = start
	}
}

// stop ends the watch, before the kill, and says when it last flushed.
func (w *flushWatch) stop() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	return w.latest
}
