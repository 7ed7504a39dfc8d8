package samples_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/samples"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := samples.Summarize(ds)
	require.Equal(t, samples.Summary{
		N: 100, Median: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond,
		Min: time.Millisecond, Max: 100 * time.Millisecond,
	}, s)
	require.Equal(t, 100*time.Millisecond, ds[0], "the input is left as it was")
	require.Equal(t, samples.Summary{}, samples.Summarize(nil))
	require.Equal(t, 3*time.Second, samples.Summarize([]time.Duration{3 * time.Second}).P99)
}

func TestRatio(t *testing.T) {
	require.InDelta(t, 1.25, samples.Ratio(5*time.Millisecond, 4*time.Millisecond), 1e-9)
	require.Zero(t, samples.Ratio(5, 0))
	require.InDelta(t, 0.5, samples.Ratio(1.0, 2.0), 1e-9)
}
