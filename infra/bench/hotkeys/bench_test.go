package hotkeys

import (
	"context"
	"testing"

	"github.com/laoyou/laoyou/infra/bench/apistack"
)

// BenchmarkHotKeys records both traces once and reports, per spike, the
// busiest key's write capacity and item writes per second at 20,000
// requests a second (goal: under 1,000 WCU/s).
func BenchmarkHotKeys(b *testing.B) {
	f, err := Measure(context.Background(), apistack.SharedDB(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, sp := range []struct {
		name string
		s    Spike
	}{{"deal-joins", f.Deal}, {"template-claims", f.Template}} {
		b.Run(sp.name, func(b *testing.B) {
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(sp.s.Busiest.WCU, "busiest-WCU/s")
			b.ReportMetric(sp.s.Busiest.Writes, "busiest-writes/s")
		})
	}
}
