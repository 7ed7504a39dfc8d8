package spike_test

import (
	"context"
	"testing"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/spike"
)

// BenchmarkSpike runs the spike once and reports the handlers' rates with
// and without Idempotency-Keys, the bare operations' rate, the ratios
// (goal: at least 0.8 with keys) and the invariant violations found
// (goal: 0).
func BenchmarkSpike(b *testing.B) {
	f, err := spike.Measure(context.Background(), apistack.SharedDB(b), spike.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(f.Keyed.Rate, "ops/s")
	b.ReportMetric(f.Keyed.RequestRate, "requests/s")
	b.ReportMetric(f.Keyed.Ratio, "ratio")
	b.ReportMetric(f.Unkeyed.Rate, "unkeyed-ops/s")
	b.ReportMetric(f.Unkeyed.Ratio, "unkeyed-ratio")
	b.ReportMetric(f.Bare.Rate, "bare-ops/s")
	b.ReportMetric(float64(f.Violations()), "violations")
}
