package coldstart

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders the figures as tables for BENCHMARKS.md, saying in words
// which goals are missed.
func (f Figures) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Init is the time from process start to the function's first `GET /2018-06-01/runtime/invocation/next` "+
		"on a fake Lambda Runtime API (`infra/bench/runtimeapi`), with the environment Lambda gives and dummy credentials, "+
		"measured on this machine (%s). Each of %d rounds starts every function once beside a start of a hello-world "+
		"aws-lambda-go function built the same way, alternating which goes first; the ratio is the function's median over "+
		"the baseline's (goal: at most %.1f).\n\n", f.Host, f.Rounds, MaxInitRatio)

	b.WriteString("| binary | median init | p90 init | starts | ratio to hello | goal met | DynamoDB connections in init |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|---:|\n")
	fmt.Fprintf(&b, "| hello (baseline) | %s | %s | %d | 1.00 | | |\n", ms(f.HelloInit.Median), ms(f.HelloInit.P90), f.HelloInit.Samples)
	for _, fn := range f.Functions {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.2f | %s | %d |\n", fn.Name, ms(fn.Init.Median), ms(fn.Init.P90),
			fn.Init.Samples, fn.Ratio, yesNo(fn.InitGoalMet()), fn.DynamoDBConnections)
	}

	fmt.Fprintf(&b, "\nBinary sizes, stripped (`CGO_ENABLED=0 go build %s`); goal: at most 10 MB (%s bytes). "+
		"MB is 10^6 bytes, MiB 2^20.\n\n", strings.Join(quoteFlags(BuildFlags), " "), thousands(MaxBinaryBytes))
	b.WriteString("| binary |")
	for _, t := range f.SizeTargets {
		fmt.Fprintf(&b, " %s |", t)
	}
	b.WriteString(" goal met |\n|---|")
	for range f.SizeTargets {
		b.WriteString("---:|")
	}
	b.WriteString("---|\n")
	b.WriteString(sizeRow("hello (baseline)", f.HelloSizes, false))
	for _, fn := range f.Functions {
		b.WriteString(sizeRow(fn.Name, fn.Sizes, true))
	}

	b.WriteString("\nPackage inits each function runs beyond hello's, from one start with `GODEBUG=inittrace=1` " +
		"(indicative: one start, and tracing costs time itself):\n\n")
	b.WriteString("| binary | packages | their init time | heaviest |\n|---|---:|---:|---|\n")
	for _, fn := range f.Functions {
		var total time.Duration
		for _, p := range fn.ExtraInits {
			total += p.Clock
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", fn.Name, len(fn.ExtraInits), ms(total), heaviest(fn.ExtraInits, 3))
	}

	b.WriteString("\n")
	if misses := f.misses(); len(misses) > 0 {
		b.WriteString("**Goals missed:**\n\n")
		for _, m := range misses {
			fmt.Fprintf(&b, "- %s\n", m)
		}
	} else {
		b.WriteString("All cold-start and size goals are met.\n")
	}
	return b.String()
}

// misses says, one line each, which goal each function misses and what
// usually fixes it.
func (f Figures) misses() []string {
	var out []string
	for _, fn := range f.Functions {
		if !fn.InitGoalMet() {
			hint := "Look for work in package init (large tables, regexp compiles, SDK config loading)"
			if len(fn.ExtraInits) > 0 {
				hint = "Heaviest package inits beyond hello's: " + heaviest(fn.ExtraInits, 3)
			}
			out = append(out, fmt.Sprintf("%s: init median %.2f× hello's (goal %.1f×). %s. Work in our packages can move "+
				"behind first use (sync.OnceValue); a dependency's needs its import dropped or another version.",
				fn.Name, fn.Ratio, MaxInitRatio, hint))
		}
		if fn.DynamoDBConnections > 0 {
			out = append(out, fmt.Sprintf("%s: init opened %d connection(s) to DynamoDB; init should only build the client.",
				fn.Name, fn.DynamoDBConnections))
		}
		for _, s := range fn.Sizes {
			if !s.SizeGoalMet() {
				out = append(out, fmt.Sprintf("%s: %s binary is %s (goal 10 MB). Look for imports that pull in "+
					"large packages (the SDK's default config chain, unused services).", fn.Name, s.Target, bytesText(s.Bytes)))
			}
		}
	}
	return out
}

// heaviest lists the first n package inits with their times.
func heaviest(inits []PackageInit, n int) string {
	var parts []string
	for _, p := range inits[:min(n, len(inits))] {
		parts = append(parts, fmt.Sprintf("`%s` %s", shortPackage(p.Package), ms(p.Clock)))
	}
	return strings.Join(parts, ", ")
}

// shortPackage drops the host from a package path, and our module path
// from our own packages, to keep table rows readable.
func shortPackage(p string) string {
	if rest, ok := strings.CutPrefix(p, "github.com/laoyou/laoyou/"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(p, "github.com/"); ok {
		if _, repoPath, ok := strings.Cut(rest, "/"); ok {
			return repoPath // aws/aws-sdk-go-v2/x → aws-sdk-go-v2/x
		}
	}
	return p
}

func sizeRow(name string, sizes []Size, judged bool) string {
	var b strings.Builder
	met := true
	fmt.Fprintf(&b, "| %s |", name)
	for _, s := range sizes {
		fmt.Fprintf(&b, " %s |", bytesText(s.Bytes))
		met = met && s.SizeGoalMet()
	}
	if judged {
		fmt.Fprintf(&b, " %s |\n", yesNo(met))
	} else {
		b.WriteString(" |\n")
	}
	return b.String()
}

// bytesText shows a size both ways, since 10 MB and 10 MiB differ by 5%.
func bytesText(n int64) string {
	return fmt.Sprintf("%.2f MB (%.2f MiB)", float64(n)/1e6, float64(n)/(1<<20))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// thousands writes n with comma separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// quoteFlags shows flags as a shell would need them.
func quoteFlags(flags []string) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		if k, v, ok := strings.Cut(f, "="); ok && strings.Contains(v, " ") {
			f = k + "='" + v + "'"
		}
		out[i] = f
	}
	return out
}

// Summary is the section's verdict in a sentence.
func (f Figures) Summary() string {
	if len(f.Functions) == 0 {
		return "no functions measured"
	}
	lo, hi := f.Functions[0].Ratio, f.Functions[0].Ratio
	var biggest int64
	for _, fn := range f.Functions {
		lo, hi = min(lo, fn.Ratio), max(hi, fn.Ratio)
		for _, s := range fn.Sizes {
			biggest = max(biggest, s.Bytes)
		}
	}
	return fmt.Sprintf("init %.2f× to %.2f× a hello-world function's (goal at most %.1f×); largest stripped binary %s (goal at most 10 MB)",
		lo, hi, MaxInitRatio, bytesText(biggest))
}
