// Package coldstart measures what a Lambda cold start of each function costs
// before it can serve: the init time of its binary, and the binary's size.
//
// Init is the time from process start to the function's first call for an
// invocation on a fake Lambda Runtime API (package runtimeapi), the point at
// which Lambda considers the execution environment ready. It is compared
// with a hello-world aws-lambda-go function built the same way and measured
// in the same run, rounds interleaved, so that the figure is a ratio that a
// noisy machine shifts for both sides alike. The goals (docs/DESIGN.md,
// Performance): a median at most 1.2 times the baseline's, and stripped
// binaries of at most 10 MB.
//
// Measure returns the figures for a report, with the package inits each
// function adds (GODEBUG=inittrace=1) to show where init time goes; the
// package's benchmarks give the same figures as benchmark metrics.
package coldstart

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// The goals the figures are checked against.
const (
	MaxInitRatio   = 1.2
	MaxBinaryBytes = 10_000_000 // 10 MB, decimal as AWS counts
)

// DefaultRounds is how many times each binary is started when
// Options.Rounds is zero.
const DefaultRounds = 15

// Options tune Measure.
type Options struct {
	// Rounds is how many measured starts each function gets (DefaultRounds
	// if zero). Each round starts every function once, each beside a start
	// of the baseline, so the baseline gets Rounds × functions starts.
	Rounds int
	// SizeTargets are the platforms whose binary sizes are reported
	// (LinuxARM64 and LinuxAMD64 if nil).
	SizeTargets []Target
	// Progress, if set, receives a line per step.
	Progress io.Writer
}

// Figures are the results of one Measure.
type Figures struct {
	Host        Target   // where init was measured
	Rounds      int      // measured starts per function
	SizeTargets []Target // the platforms of every Sizes, in this order
	Hello       Binary   // the baseline
	HelloInit   Init
	HelloSizes  []Size
	Functions   []Function
}

// Function is one function's figures.
type Function struct {
	Name string
	Init Init
	// Ratio is Init.Median over the baseline's median.
	Ratio float64
	Sizes []Size
	// DynamoDBConnections is the most connections to DynamoDB any one
	// start opened during init (it should be none).
	DynamoDBConnections int
	// ExtraInits are the package inits the function runs and the baseline
	// does not, heaviest first, from one traced start: where to look when
	// the ratio is high.
	ExtraInits []PackageInit
}

// Init summarises the init times of one binary.
type Init struct {
	Median  time.Duration
	P90     time.Duration
	Samples int
}

// InitGoalMet reports whether the function's init is within MaxInitRatio
// of the baseline's.
func (f Function) InitGoalMet() bool { return f.Ratio <= MaxInitRatio }

// SizeGoalMet reports whether the binary is within MaxBinaryBytes.
func (s Size) SizeGoalMet() bool { return s.Bytes <= MaxBinaryBytes }

// GoalsMet reports whether every function meets every goal.
func (f Figures) GoalsMet() bool {
	for _, fn := range f.Functions {
		if !fn.InitGoalMet() || fn.DynamoDBConnections > 0 {
			return false
		}
		for _, s := range fn.Sizes {
			if !s.SizeGoalMet() {
				return false
			}
		}
	}
	return true
}

// Measure builds every binary and measures the init times (on the host)
// and the sizes (for opts.SizeTargets) of the functions in b against the
// hello baseline.
func Measure(ctx context.Context, b *Builds, opts Options) (Figures, error) {
	if opts.Rounds <= 0 {
		opts.Rounds = DefaultRounds
	}
	if opts.SizeTargets == nil {
		opts.SizeTargets = []Target{LinuxARM64, LinuxAMD64}
	}
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	fns := b.Functions()
	fig := Figures{
		Host:        Host(),
		Rounds:      opts.Rounds,
		SizeTargets: opts.SizeTargets,
		Hello:       Binary{Name: HelloName, Package: HelloPackage},
	}

	for _, t := range append([]Target{fig.Host}, opts.SizeTargets...) {
		progress("coldstart: building for %s", t)
		if _, err := b.For(ctx, t); err != nil {
			return Figures{}, err
		}
	}
	sizes, err := b.Sizes(ctx, opts.SizeTargets)
	if err != nil {
		return Figures{}, err
	}
	paths, err := b.For(ctx, fig.Host)
	if err != nil {
		return Figures{}, err
	}

	// One unmeasured start each first: the first exec of a fresh binary
	// reads it from disk, which says more about the page cache than about
	// the function.
	progress("coldstart: warming up")
	for _, name := range append([]string{HelloName}, names(fns)...) {
		if _, err := StartOnce(ctx, paths[name], name); err != nil {
			return Figures{}, err
		}
	}

	samples := map[string][]time.Duration{}
	conns := map[string]int{}
	for r := range opts.Rounds {
		progress("coldstart: round %d of %d", r+1, opts.Rounds)
		for i := range fns {
			// Rotating the order and swapping which of the pair goes first
			// spreads any drift of the machine over all binaries.
			name := fns[(i+r)%len(fns)].Name
			pair := []string{HelloName, name}
			if r%2 == 1 {
				pair[0], pair[1] = pair[1], pair[0]
			}
			for _, n := range pair {
				s, err := StartOnce(ctx, paths[n], n)
				if err != nil {
					return Figures{}, err
				}
				samples[n] = append(samples[n], s.Init)
				conns[n] = max(conns[n], s.DynamoDBConnections)
			}
		}
	}

	// Traced starts come last so that tracing cannot disturb the figures.
	progress("coldstart: tracing package inits")
	traces := map[string][]PackageInit{}
	for _, name := range append([]string{HelloName}, names(fns)...) {
		if traces[name], err = TraceInit(ctx, paths[name], name); err != nil {
			return Figures{}, err
		}
	}

	fig.HelloInit = Summarize(samples[HelloName])
	fig.HelloSizes = sizes[HelloName]
	for _, fn := range fns {
		in := Summarize(samples[fn.Name])
		fig.Functions = append(fig.Functions, Function{
			Name:                fn.Name,
			Init:                in,
			Ratio:               Ratio(in.Median, fig.HelloInit.Median),
			Sizes:               sizes[fn.Name],
			DynamoDBConnections: conns[fn.Name],
			ExtraInits:          beyond(traces[fn.Name], traces[HelloName]),
		})
	}
	return fig, nil
}

// Summarize gives the median and the 90th percentile (nearest rank) of
// samples.
func Summarize(samples []time.Duration) Init {
	n := len(samples)
	if n == 0 {
		return Init{}
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	rank := int(math.Ceil(0.9 * float64(n)))
	return Init{Median: median, P90: s[rank-1], Samples: n}
}

// Ratio is d over baseline, or 0 when there is no baseline.
func Ratio(d, baseline time.Duration) float64 {
	if baseline <= 0 {
		return 0
	}
	return float64(d) / float64(baseline)
}

func names(bins []Binary) []string {
	out := make([]string, len(bins))
	for i, b := range bins {
		out[i] = b.Name
	}
	return out
}
