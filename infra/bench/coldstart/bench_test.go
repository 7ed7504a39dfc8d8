package coldstart_test

import (
	"context"
	"testing"
	"time"

	"github.com/laoyou/laoyou/infra/bench/coldstart"
)

// BenchmarkColdStart starts each function and the hello baseline in turn,
// one pair per iteration, and reports the function's median and p90 init,
// the baseline's median, and their ratio (goal: at most 1.2). The time per
// operation would only be the pair's total, so it is left out.
func BenchmarkColdStart(b *testing.B) {
	bs := builds(b)
	ctx := context.Background()
	paths, err := bs.For(ctx, coldstart.Host())
	if err != nil {
		b.Fatal(err)
	}
	for _, fn := range bs.Functions() {
		b.Run(fn.Name, func(b *testing.B) {
			pair := []string{coldstart.HelloName, fn.Name}
			// Unmeasured first starts: they read the binaries from disk.
			for _, name := range pair {
				if _, err := coldstart.StartOnce(ctx, paths[name], name); err != nil {
					b.Fatal(err)
				}
			}
			samples := map[string][]time.Duration{}
			for b.Loop() {
				for _, name := range pair {
					s, err := coldstart.StartOnce(ctx, paths[name], name)
					if err != nil {
						b.Fatal(err)
					}
					samples[name] = append(samples[name], s.Init)
					if s.DynamoDBConnections > 0 {
						b.Errorf("%s opened %d connections to DynamoDB during init", name, s.DynamoDBConnections)
					}
				}
				pair[0], pair[1] = pair[1], pair[0]
			}
			hello, own := coldstart.Summarize(samples[coldstart.HelloName]), coldstart.Summarize(samples[fn.Name])
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(msOf(own.Median), "ms/init")
			b.ReportMetric(msOf(own.P90), "p90-ms/init")
			b.ReportMetric(msOf(hello.Median), "hello-ms/init")
			b.ReportMetric(coldstart.Ratio(own.Median, hello.Median), "ratio")
		})
	}
}

// BenchmarkBinarySize reports each function's stripped binary size for
// linux/arm64 and linux/amd64 (goal: at most 10,000,000 bytes). There is
// nothing to time; the sizes are the result.
func BenchmarkBinarySize(b *testing.B) {
	bs := builds(b)
	ctx := context.Background()
	targets := []coldstart.Target{coldstart.LinuxARM64, coldstart.LinuxAMD64}
	sizes, err := bs.Sizes(ctx, targets)
	if err != nil {
		b.Fatal(err)
	}
	for _, fn := range bs.Functions() {
		b.Run(fn.Name, func(b *testing.B) {
			b.ReportMetric(0, "ns/op")
			for _, s := range sizes[fn.Name] {
				b.ReportMetric(float64(s.Bytes), s.Target.GOARCH+"-bytes")
			}
		})
	}
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
