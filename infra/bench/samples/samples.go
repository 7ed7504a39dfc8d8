// Package samples summarises what a benchmark measured: medians and
// percentiles of durations, and ratios of one side to another, which is
// how infra/bench reports times measured on shared, noisy machines.
package samples

import (
	"math"
	"slices"
	"time"
)

// Summary describes one set of durations.
type Summary struct {
	N      int
	Median time.Duration
	P90    time.Duration
	P99    time.Duration
	Min    time.Duration
	Max    time.Duration
}

// Summarize sorts a copy of ds and takes its quantiles (nearest rank).
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Summary{
		N: len(s), Median: Quantile(s, 0.5), P90: Quantile(s, 0.9), P99: Quantile(s, 0.99),
		Min: s[0], Max: s[len(s)-1],
	}
}

// Quantile is the q-quantile (0 < q <= 1) of sorted durations by nearest
// rank: the smallest value at least a share q of them do not exceed.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Ratio is a over b, 0 when b is 0.
func Ratio[T ~int64 | ~float64 | ~int](a, b T) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Ms is d in milliseconds, for reports and benchmark metrics.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
