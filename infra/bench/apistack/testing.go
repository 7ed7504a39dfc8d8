package apistack

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// shared is the DB of a test process, opened on first use.
var shared struct {
	once sync.Once
	db   *DB
	err  error
}

// SharedDB is the DB of this test process: opened on first use (starting
// DynamoDB Local unless EndpointEnv is set) and closed by Main.
func SharedDB(tb testing.TB) *DB {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.db, shared.err = Open(ctx)
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.db
}

// Main runs a package's tests and benchmarks, then stops the DynamoDB Local
// that SharedDB started, if any. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.db != nil {
		if err := shared.db.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "apistack: stopping DynamoDB Local:", err)
		}
	}
	os.Exit(code)
}

// TestDB is the DB for a test that runs a measurement at a small scale: the
// DynamoDB that EndpointEnv names (`make test` starts one for every
// package). Without one, or under -short, the test is skipped: starting
// DynamoDB Local in each package would make `go test ./infra/bench/...`
// slow, and the benchmarks run the measurements in full anyway.
func TestDB(t *testing.T) *DB {
	t.Helper()
	if testing.Short() {
		t.Skip("runs against DynamoDB: skipped under -short")
	}
	if os.Getenv(EndpointEnv) == "" {
		t.Skipf("runs against DynamoDB: set %s (make test does)", EndpointEnv)
	}
	return SharedDB(t)
}
