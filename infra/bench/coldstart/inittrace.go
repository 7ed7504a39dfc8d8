package coldstart

import (
	"bufio"
	"context"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PackageInit is the cost of one package's initialisation, as the Go
// runtime reports it with GODEBUG=inittrace=1.
type PackageInit struct {
	Package string
	Clock   time.Duration // wall-clock time of the package's init
	Bytes   int64         // heap allocated
	Allocs  int64
}

// TraceInit starts binary once with GODEBUG=inittrace=1 and returns what
// each package's init cost, heaviest first. It is one start, so its times
// are indicative; it is for finding what to move out of init, not for
// figures.
func TraceInit(ctx context.Context, binary, name string) ([]PackageInit, error) {
	_, out, err := start(ctx, binary, name, []string{"GODEBUG=inittrace=1"}, 1<<20)
	if err != nil {
		return nil, err
	}
	inits := ParseInitTrace(out)
	sort.SliceStable(inits, func(i, j int) bool { return inits[i].Clock > inits[j].Clock })
	return inits, nil
}

// A line of inittrace output, e.g.
// "init net/http @10 ms, 0.15 ms clock, 4712 bytes, 49 allocs".
var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, ([0-9]+) bytes, ([0-9]+) allocs$`)

// ParseInitTrace reads the inittrace lines out of a process's output, in
// the order the packages were initialised, and skips every other line.
func ParseInitTrace(output string) []PackageInit {
	var inits []PackageInit
	s := bufio.NewScanner(strings.NewReader(output))
	for s.Scan() {
		m := initLine.FindStringSubmatch(strings.TrimSpace(s.Text()))
		if m == nil {
			continue
		}
		ms, _ := strconv.ParseFloat(m[2], 64)
		bytes, _ := strconv.ParseInt(m[3], 10, 64)
		allocs, _ := strconv.ParseInt(m[4], 10, 64)
		inits = append(inits, PackageInit{
			Package: m[1],
			Clock:   time.Duration(math.Round(ms * float64(time.Millisecond))),
			Bytes:   bytes,
			Allocs:  allocs,
		})
	}
	return inits
}

// beyond keeps the inits of packages that baseline does not initialise:
// what a function adds to the cost of any Go Lambda function.
func beyond(inits, baseline []PackageInit) []PackageInit {
	known := map[string]bool{}
	for _, p := range baseline {
		known[p.Package] = true
	}
	var out []PackageInit
	for _, p := range inits {
		if !known[p.Package] {
			out = append(out, p)
		}
	}
	return out
}
