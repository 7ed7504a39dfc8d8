package spike_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/spike"
)

func TestMain(m *testing.M) { apistack.Main(m) }

// A small spike against DynamoDB Local: every invariant holds and the
// answers add up. The rates are the benchmark's business.
func TestSmallSpike(t *testing.T) {
	f, err := spike.Measure(context.Background(), apistack.TestDB(t), spike.Options{
		Rooms: 6, RoomSize: 3, Templates: 4, Stock: 3, ClaimsPerTpl: 5, DuplicateShare: 0.3, RetryShare: 0.3, Concurrency: 16,
	})
	require.NoError(t, err)
	require.Zero(t, f.Bare.Failures)
	require.Equal(t, 6*2+4*3, f.Bare.Ops)
	for _, sd := range []spike.Side{f.Keyed, f.Unkeyed} {
		require.Empty(t, sd.Violations, sd.Name)
		require.Equal(t, 6*2+4*3, sd.Done, "%s: every seat and every coupon taken once", sd.Name)
		require.Equal(t, spike.Checked{Rooms: 6, Members: 18, SeatShards: 1, Templates: 4, Coupons: 12}, sd.Checked, sd.Name)
		require.Positive(t, sd.Ratio, sd.Name)
	}
	require.Contains(t, f.Markdown(), "invariant violations 0 (goal 0): yes.")
}

func TestMarkdownSaysWhatFailed(t *testing.T) {
	f := spike.Figures{
		Options: spike.Options{Rooms: 1, RoomSize: 2, Phases: 2},
		Keyed: spike.Side{Name: "with keys", Ratio: 0.5, Done: 10, Requests: 16, Rate: 5, RequestRate: 8, Time: 2 * time.Second,
			Violations: []string{"room X: 3 joined, size 2"},
			Answers: []spike.Answer{
				{Op: "join", Kind: "original", Status: 200, Count: 10, Calls: spike.CallMix{Reads: 10, Writes: 12}},
				{Op: "join", Kind: "same key again", Status: 200, Code: "replayed", Count: 6, Calls: spike.CallMix{Reads: 6, Writes: 6}},
			},
			Calls: spike.CallMix{Reads: 16, Writes: 18, TransactionsAgain: 2}},
		Unkeyed: spike.Side{Name: "no keys", Ratio: 0.9, Done: 10, Requests: 10, Rate: 9, RequestRate: 10, Time: time.Second,
			Calls: spike.CallMix{Reads: 10, Writes: 12, TransactionsAgain: 2}},
		Bare: spike.Bare{Ops: 20, Rate: 10, Time: 2 * time.Second, Calls: spike.CallMix{Reads: 20, Writes: 20}},
	}
	require.False(t, f.GoalsMet())
	md := f.Markdown()
	require.Contains(t, md, "| with keys | 5.0 /s (10 in 2.0 s) | 8.0 /s (16) | 0.50 | 1 | **no** |")
	require.Contains(t, md, "| no keys | 9.0 /s (10 in 1.0 s) | 10.0 /s (10) | 0.90 | 0 |  |")
	require.Contains(t, md, "invariant violations 1 (goal 0): **no**.")
	require.Contains(t, md, "**Invariant violations (with keys):**\n\n- room X: 3 joined, size 2\n")
	require.Contains(t, md, "| join | original | 200 |  | 10 | 1.00 + 1.20 |")
	require.Contains(t, md, "| with keys | 16 | 18 | 3.40 | 2 |")
	require.Contains(t, md, "| bare calls | 20 | 20 | 2.00 | |")
	require.Contains(t, md, "Per operation done the bare side made 2.00 calls, the handlers 3.40 with keys (1.70× as many, "+
		"which leaves room for 0.59× the bare rate) and 2.20 without (1.10×, room for 0.91×).")
	require.Contains(t, md, "6 of the 16 keyed requests (0 of 10 without keys) did no new work")
	require.Contains(t, md, "per request answered the handlers made 2.12 calls with keys and 2.20 without. "+
		"The keyed side made 1.55× the unkeyed side's calls (its 6 same-key retries are requests that are only replays) "+
		"and took 2.00× its time")
	require.Contains(t, md, "**Goal missed:** with keys the handlers did 0.50× the bare rate (goal 0.8×); without keys, 0.90×.")
}
