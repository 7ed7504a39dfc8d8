package calls_test

import (
	"context"
	"testing"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/calls"
)

// BenchmarkCalls measures every route once and reports its calls per
// request as metrics, one sub-benchmark per route: reads and writes cold,
// warm and warm with an Idempotency-Key, and goal-met (1 or 0). Counts do
// not vary from run to run; there is no time to report.
func BenchmarkCalls(b *testing.B) {
	f, err := calls.Measure(context.Background(), apistack.SharedDB(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range f.Rows {
		name := r.Route.Key
		if r.Measured() {
			name = r.Scenario.Name
		}
		b.Run(name, func(b *testing.B) {
			if !r.Measured() {
				b.Fatalf("%s is not measured: it has no scenario", r.Route.Key)
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(r.Cold.Reads), "cold-reads/op")
			b.ReportMetric(float64(r.Cold.Writes), "cold-writes/op")
			b.ReportMetric(float64(r.Warm.Reads), "reads/op")
			b.ReportMetric(float64(r.Warm.Writes), "writes/op")
			if r.Keyed != nil {
				b.ReportMetric(float64(r.Keyed.Reads), "keyed-reads/op")
				b.ReportMetric(float64(r.Keyed.Writes), "keyed-writes/op")
			}
			met := 0.0
			if r.GoalMet() {
				met = 1
			}
			b.ReportMetric(met, "goal-met")
		})
	}
}
