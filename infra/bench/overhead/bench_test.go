package overhead_test

import (
	"context"
	"testing"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/overhead"
	"github.com/laoyou/laoyou/infra/bench/samples"
)

// BenchmarkJoinOverhead runs the interleaved rounds once and reports each
// side's median and p99 join, and its median's ratio to the bare calls'
// (goal: at most 1.15 for the handler with an Idempotency-Key).
func BenchmarkJoinOverhead(b *testing.B) {
	f, err := overhead.Measure(context.Background(), apistack.SharedDB(b), overhead.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []struct {
		name string
		side overhead.Side
	}{{"handler-keyed", f.Keyed}, {"handler", f.Plain}, {"bare", f.Bare}} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(samples.Ms(s.side.Times.Median), "ms/join")
			b.ReportMetric(samples.Ms(s.side.Times.P99), "p99-ms/join")
			b.ReportMetric(s.side.Ratio, "ratio")
		})
	}
}
