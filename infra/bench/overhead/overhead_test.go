package overhead_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/overhead"
	"github.com/laoyou/laoyou/infra/bench/samples"
)

func TestMain(m *testing.M) { apistack.Main(m) }

// A few rounds against DynamoDB Local: every side's joins take their seat
// and are timed. How long they take is the benchmark's business.
func TestMeasure(t *testing.T) {
	f, err := overhead.Measure(context.Background(), apistack.TestDB(t), overhead.Options{Rounds: 3})
	require.NoError(t, err)
	for _, s := range []overhead.Side{f.Keyed, f.Plain, f.Bare} {
		require.Equal(t, 3, s.Times.N, s.Name)
		require.Positive(t, s.Times.Median, s.Name)
	}
	require.InDelta(t, 1, f.Bare.Ratio, 1e-9)
	// The calls reported are those made: a join keeps its key's record in
	// its own write, so all three sides make the same calls.
	require.Equal(t, "GetItem, TransactWriteItems", f.Bare.Calls)
	require.Equal(t, f.Bare.Calls, f.Plain.Calls)
	require.Equal(t, f.Bare.Calls, f.Keyed.Calls)
}

func TestMarkdown(t *testing.T) {
	side := func(name string, median time.Duration, ratio float64) overhead.Side {
		return overhead.Side{Name: name, Calls: "GetItem", Ratio: ratio,
			Times: samples.Summary{N: 100, Median: median, P99: 2 * median}}
	}
	f := overhead.Figures{
		Rounds: 100,
		Keyed:  side("handler, Idempotency-Key", 20*time.Millisecond, 2),
		Plain:  side("handler, no key", 11*time.Millisecond, 1.1),
		Bare:   side("bare calls", 10*time.Millisecond, 1),
	}
	require.False(t, f.GoalsMet())
	md := f.Markdown()
	require.Contains(t, md, "| handler, Idempotency-Key | GetItem | 20.00 ms | 40.00 ms | 2.00 | **no** |\n")
	require.Contains(t, md, "| bare calls | GetItem | 10.00 ms | 20.00 ms | 1.00 |  |\n")
	require.Contains(t, md, "**Goal missed:** with an Idempotency-Key the handler's median is 2.00×")
	require.Contains(t, md, "the 9.00 ms between the keyed and the plain medians is that item's write", "the same calls: the record is in the join's write")
	require.Contains(t, md, "No round trip is left to remove")

	guarded := f
	guarded.Keyed.Calls = "PutItem, GetItem, TransactWriteItems, UpdateItem"
	require.Contains(t, guarded.Markdown(), "With the key the join makes PutItem, GetItem, TransactWriteItems, UpdateItem where it makes GetItem without")
	require.Contains(t, guarded.Markdown(), "write the idempotency record inside the join's own TransactWriteItems")

	f.Keyed.Ratio = 1.2
	require.False(t, f.GoalsMet(), "docs/DESIGN.md: at most 1.15")
	f.Keyed.Ratio = 1.1
	require.True(t, f.GoalsMet())
	require.Contains(t, f.Markdown(), "| 1.10 | yes |")
	require.NotContains(t, f.Markdown(), "Goal missed")
}
