// Command benchreport takes the performance figures of DESIGN.md and writes
// them to BENCHMARKS.md at the repository root, one section per
// measurement, each opened by the date, machine, Go version and commit.
// `make bench` runs it; a section it does not run is left as it was.
//
// Usage:
//
//	benchreport [-only coldstart,...] [-out FILE] [-rounds N] [-v]
//
// Each section is also printed on stdout. Goals that are missed are said in
// the section and on stderr; they do not fail the command, which fails only
// when something could not be measured.
//
// A new measurement is one more entry in sections: a name (its markers in
// BENCHMARKS.md), a heading, and a function that returns its Markdown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/laoyou/laoyou/infra/bench/coldstart"
	"github.com/laoyou/laoyou/infra/bench/report"
	"github.com/laoyou/laoyou/infra/samtemplate"
)

// section is one measurement and the part of BENCHMARKS.md it owns.
type section struct {
	name    string // marker name in BENCHMARKS.md, and its -only value
	heading string
	measure func(context.Context, setup) (result, error)
}

// result is a measured section: its body, and whether its goals are met.
type result struct {
	markdown string
	goalsMet bool
}

// setup is what every measurement may use.
type setup struct {
	root     string    // the repository root
	workDir  string    // scratch space for builds, removed afterwards
	rounds   int       // -rounds, or 0 for the measurement's default
	progress io.Writer // where steps are logged (io.Discard without -v)
}

// sections are in the order they are run and first written.
var sections = []section{
	{name: "coldstart", heading: "Cold start and binary size", measure: measureColdStart},
}

func measureColdStart(ctx context.Context, s setup) (result, error) {
	fns, err := coldstart.Functions(s.root)
	if err != nil {
		return result{}, err
	}
	builds := coldstart.NewBuilds(s.root, filepath.Join(s.workDir, "coldstart"), fns)
	fig, err := coldstart.Measure(ctx, builds, coldstart.Options{Rounds: s.rounds, Progress: s.progress})
	if err != nil {
		return result{}, err
	}
	return result{markdown: fig.Markdown(), goalsMet: fig.GoalsMet()}, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "", "comma-separated sections to run (default all: "+strings.Join(names(), ",")+")")
	out := fs.String("out", "", "the report to update (default BENCHMARKS.md at the repository root)")
	rounds := fs.Int("rounds", 0, "measured rounds where a section takes rounds (0: its default)")
	verbose := fs.Bool("v", false, "log each step on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	chosen, err := choose(*only)
	if err != nil {
		return err
	}

	root, err := samtemplate.RepoRoot()
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(root, "BENCHMARKS.md")
	}
	work, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	s := setup{root: root, workDir: work, rounds: *rounds, progress: io.Discard}
	if *verbose {
		s.progress = stderr
	}

	for _, sec := range chosen {
		// Taken per section: a long run's sections may straddle a commit.
		r := report.CurrentRun(ctx, root)
		res, err := sec.measure(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", sec.name, err)
		}
		md := "## " + sec.heading + "\n\n" + r.Markdown() + "\n\n" + res.markdown
		if err := report.UpdateSection(*out, sec.name, md); err != nil {
			return err
		}
		fmt.Fprintln(stdout, md)
		if !res.goalsMet {
			fmt.Fprintf(stderr, "benchreport: %s: goals missed (see %s)\n", sec.name, *out)
		}
	}
	return nil
}

// choose picks the sections named in a comma-separated list, all if empty.
func choose(list string) ([]section, error) {
	if strings.TrimSpace(list) == "" {
		return sections, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var chosen []section
	for _, sec := range sections {
		if want[sec.name] {
			chosen = append(chosen, sec)
			delete(want, sec.name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, n)
		}
		sort.Strings(unknown)
		return nil, errors.New("unknown sections " + strings.Join(unknown, ", ") + "; known: " + strings.Join(names(), ", "))
	}
	return chosen, nil
}

func names() []string {
	out := make([]string, len(sections))
	for i, s := range sections {
		out[i] = s.name
	}
	return out
}
