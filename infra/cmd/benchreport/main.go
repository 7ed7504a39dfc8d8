// Command benchreport takes the performance figures of docs/DESIGN.md and writes
// them to BENCHMARKS.md at the repository root, one section per
// measurement, each opened by the date, machine, Go version and commit.
// `make bench` runs it; a section it does not run is left as it was.
//
// Usage:
//
//	benchreport [-only calls,overhead,...] [-out FILE] [-rounds N] [-v]
//
// The measurements that need DynamoDB use the one DYNAMODB_ENDPOINT names
// (`ddblocal exec` sets it), or start DynamoDB Local for the run.
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

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/calls"
	"github.com/laoyou/laoyou/infra/bench/closer"
	"github.com/laoyou/laoyou/infra/bench/coldstart"
	"github.com/laoyou/laoyou/infra/bench/hotkeys"
	"github.com/laoyou/laoyou/infra/bench/overhead"
	"github.com/laoyou/laoyou/infra/bench/report"
	"github.com/laoyou/laoyou/infra/bench/spike"
	"github.com/laoyou/laoyou/infra/bench/wechat"
	"github.com/laoyou/laoyou/infra/samtemplate"
)

// section is one measurement and the part of BENCHMARKS.md it owns.
type section struct {
	name    string // marker name in BENCHMARKS.md, and its -only value
	heading string
	measure func(context.Context, setup) (result, error)
}

// result is a measured section: its body, whether its goals are met, and
// the figures behind that verdict in a sentence.
type result struct {
	markdown string
	goalsMet bool
	summary  string
}

// setup is what every measurement may use.
type setup struct {
	root     string    // the repository root
	workDir  string    // scratch space for builds, removed afterwards
	rounds   int       // -rounds, or 0 for the measurement's default
	progress io.Writer // where steps are logged (io.Discard without -v)
	// db is the DynamoDB of the measurements that need one, opened on
	// first use.
	db func(context.Context) (*apistack.DB, error)
}

// sections are in the order they are run and first written: the order of
// docs/DESIGN.md's Performance goals.
var sections = []section{
	{name: "calls", heading: "DynamoDB calls per operation", measure: measureCalls},
	{name: "overhead", heading: "Handler overhead of a join", measure: measureOverhead},
	{name: "spike", heading: "Spike: concurrent joins and claims", measure: measureSpike},
	{name: "coldstart", heading: "Cold start and binary size", measure: measureColdStart},
	{name: "hotkeys", heading: "Hot keys at 20,000 requests a second", measure: measureHotKeys},
	{name: "closer", heading: "Closer scaling", measure: measureCloser},
	{name: "wechat", heading: "Calls that reach WeChat", measure: measureWeChat},
}

func measureCalls(ctx context.Context, s setup) (result, error) {
	db, err := s.db(ctx)
	if err != nil {
		return result{}, err
	}
	f, err := calls.Measure(ctx, db, s.progress)
	if err != nil {
		return result{}, err
	}
	return result{markdown: f.Markdown(), goalsMet: f.GoalsMet(), summary: f.Summary()}, nil
}

func measureOverhead(ctx context.Context, s setup) (result, error) {
	db, err := s.db(ctx)
	if err != nil {
		return result{}, err
	}
	f, err := overhead.Measure(ctx, db, overhead.Options{Rounds: s.rounds, Progress: s.progress})
	if err != nil {
		return result{}, err
	}
	return result{markdown: f.Markdown(), goalsMet: f.GoalsMet(), summary: f.Summary()}, nil
}

func measureSpike(ctx context.Context, s setup) (result, error) {
	db, err := s.db(ctx)
	if err != nil {
		return result{}, err
	}
	f, err := spike.Measure(ctx, db, spike.Options{Progress: s.progress})
	if err != nil {
		return result{}, err
	}
	return result{markdown: f.Markdown(), goalsMet: f.GoalsMet(), summary: f.Summary()}, nil
}

func measureHotKeys(ctx context.Context, s setup) (result, error) {
	db, err := s.db(ctx)
	if err != nil {
		return result{}, err
	}
	f, err := hotkeys.Measure(ctx, db, hotkeys.Options{Progress: s.progress})
	if err != nil {
		return result{}, err
	}
	return result{markdown: f.Markdown(), goalsMet: f.GoalsMet(), summary: f.Summary()}, nil
}

func measureCloser(ctx context.Context, s setup) (result, error) {
	db, err := s.db(ctx)
	if err != nil {
		return result{}, err
	}
	f, err := closer.Measure(ctx, db, closer.Options{Progress: s.progress})
	if err != nil {
		return result{}, err
	}
	return result{markdown: f.Markdown(), goalsMet: f.GoalsMet(), summary: f.Summary()}, nil
}

func measureWeChat(ctx context.Context, s setup) (result, error) {
	db, err := s.db(ctx)
	if err != nil {
		return result{}, err
	}
	f, err := wechat.Measure(ctx, db, wechat.Options{Progress: s.progress})
	if err != nil {
		return result{}, err
	}
	return result{markdown: f.Markdown(), goalsMet: f.GoalsMet(), summary: f.Summary()}, nil
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
	return result{markdown: fig.Markdown(), goalsMet: fig.GoalsMet(), summary: fig.Summary()}, nil
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
	var db *apistack.DB
	s.db = func(ctx context.Context) (*apistack.DB, error) {
		if db != nil {
			return db, nil
		}
		var err error
		db, err = apistack.Open(ctx)
		return db, err
	}
	defer func() {
		if db != nil {
			if err := db.Close(); err != nil {
				fmt.Fprintln(stderr, "benchreport: stopping DynamoDB Local:", err)
			}
		}
	}()

	for _, sec := range chosen {
		// Taken per section: a long run's sections may straddle a commit.
		r := report.CurrentRun(ctx, root)
		res, err := sec.measure(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", sec.name, err)
		}
		md := "## " + sec.heading + "\n\n" + r.Markdown() + " " + verdict(res) + "\n\n" + res.markdown
		if err := report.UpdateSection(*out, sec.name, md); err != nil {
			return err
		}
		fmt.Fprintln(stdout, md)
		if !res.goalsMet {
			fmt.Fprintf(stderr, "benchreport: %s: goals missed (see %s)\n", sec.name, *out)
		}
	}
	return writeSummary(*out)
}

// verdict is the section's goals and figures in a sentence, after its run
// line; writeSummary collects them.
func verdict(r result) string {
	summary := ""
	if r.summary != "" {
		summary = " " + strings.ToUpper(r.summary[:1]) + r.summary[1:] + "."
	}
	if r.goalsMet {
		return "Goals met." + summary
	}
	return "**Goals missed.**" + summary
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
