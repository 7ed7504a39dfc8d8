package chaos

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

	faultless, err := ddblocal.NewClient(ctx, inst.Endpoint, FastRetries(3))
	require.NoError(t, err)
	sys := newSystem(inst.Endpoint, table, faultless, clean)
	sys.timeout = 10 * time.Second // the functions' Timeout in template.yaml: writes to disk are slower
	setUp(t, newSystem(inst.Endpoint, table, clean, clean))
	w := newWorld(80, 2, sys.hasRoute("referral", visitsRoute))
	log := &ledger{}

	var answered atomic.Int64
	type restart struct {
		took time.Duration
		err  error
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
						start := time.Now()
						err := inst.Kill()
						if err == nil {
							err = inst.Restart(ctx)
						}
						crashed <- restart{time.Since(start), err}
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
	seen, _ := checkLedger(tab, log.all())
	violations = append(violations, seen...)
	f := log.figures()
	t.Logf("durability: %d requests (%s), DynamoDB killed after %d answers and back in %v; answers %s; 5xx retried %d; table: %s; violations: %d",
		before, countsOf(f.ops), killAfter, outage.took.Round(100*time.Millisecond), countsOf(f.answers), f.failed, countsOf(tab.Counts()), len(violations))
	for _, v := range violations {
		t.Log(v)
	}
	require.Empty(t, violations)
	require.Positive(t, f.failed, "some requests met the dead DynamoDB")
	require.Positive(t, f.answers["2xx"])
}
