package closer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/closer"
)

// BenchmarkCloser settles N expired rooms among M open ones for each
// default pair and reports, per pair, the items the run read, its read and
// write calls and the read capacity DynamoDB reports (goal: items read
// grow with N, flat in M).
func BenchmarkCloser(b *testing.B) {
	f, err := closer.Measure(context.Background(), apistack.SharedDB(b), closer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range f.Runs {
		b.Run(fmt.Sprintf("expired=%d/open=%d", r.Expired, r.Open), func(b *testing.B) {
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(r.ItemsRead), "items-read/op")
			b.ReportMetric(float64(r.Reads), "reads/op")
			b.ReportMetric(float64(r.Writes), "writes/op")
			b.ReportMetric(r.ReadCapacity, "RCU/op")
		})
	}
}
