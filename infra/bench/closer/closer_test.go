package closer_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/closer"
	"github.com/laoyou/laoyou/shared/stream"
)

func TestMain(m *testing.M) { apistack.Main(m) }

// Small pairs against DynamoDB Local: the closer settles every expired room
// and reads no open one.
func TestMeasure(t *testing.T) {
	f, err := closer.Measure(context.Background(), apistack.TestDB(t), closer.Options{
		Pairs: []closer.Pair{{Expired: 2, Open: 20}, {Expired: 4, Open: 20}, {Expired: 2, Open: 200}},
	})
	require.NoError(t, err)
	require.Len(t, f.Runs, 3)
	for _, r := range f.Runs {
		require.Equal(t, r.Expired, r.Result.Settled)
		require.Equal(t, r.Expired, r.IndexItems, "the index entries examined are the due rooms'")
		require.Equal(t, r.Expired, r.GetItems)
		require.Equal(t, r.Expired, r.Writes)
	}
	require.True(t, f.GoalsMet(), f.Markdown())
}

func TestGoals(t *testing.T) {
	run := func(n, m, items int) closer.Run {
		return closer.Run{Pair: closer.Pair{Expired: n, Open: m}, ItemsRead: items, Result: stream.CloserResult{Settled: n}}
	}
	flat := closer.Figures{Runs: []closer.Run{run(10, 1000, 20), run(50, 1000, 100), run(10, 5000, 20), run(50, 5000, 100)}}
	require.True(t, flat.GoalsMet())
	require.Contains(t, flat.Markdown(), "| 10 | 5000 | 10 | 0 | 0 | 0 | 0 | 20 | 2.00 | 0.0 | 0 |")
	require.Contains(t, flat.Markdown(), "Goal met")

	growing := closer.Figures{Runs: []closer.Run{run(10, 1000, 20), run(10, 5000, 520)}}
	require.False(t, growing.GoalsMet())
	require.Contains(t, growing.Markdown(), "with 10 expired rooms, 1000 open ones cost 20 items read and 5000 cost 520")

	blind := closer.Figures{Runs: []closer.Run{run(10, 1000, 20), run(50, 1000, 20)}}
	require.False(t, blind.GoalsMet())
	require.Contains(t, blind.Markdown(), "reads do not follow the expired rooms")
}
