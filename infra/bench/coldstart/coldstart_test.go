package coldstart_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/coldstart"
	"github.com/laoyou/laoyou/infra/samtemplate"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
		want    coldstart.Init
	}{
		{name: "none", samples: nil, want: coldstart.Init{}},
		{name: "one", samples: ms(7), want: coldstart.Init{Median: 7 * time.Millisecond, P90: 7 * time.Millisecond, Samples: 1}},
		{name: "odd, unsorted", samples: ms(5, 1, 3), want: coldstart.Init{Median: 3 * time.Millisecond, P90: 5 * time.Millisecond, Samples: 3}},
		{name: "even takes the mean of the middle two", samples: ms(4, 1, 2, 3), want: coldstart.Init{Median: 2500 * time.Microsecond, P90: 4 * time.Millisecond, Samples: 4}},
		{
			name:    "p90 is the nearest rank",
			samples: ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 100),
			want:    coldstart.Init{Median: 6 * time.Millisecond, P90: 10 * time.Millisecond, Samples: 11},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := append([]time.Duration(nil), tt.samples...)
			require.Equal(t, tt.want, coldstart.Summarize(in))
			require.Equal(t, tt.samples, in, "samples are left in their order")
		})
	}
}

func TestParseInitTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		output string
		want   []coldstart.PackageInit
	}{
		{name: "no trace", output: "2026/01/01 failed to get the next invoke\n", want: nil},
		{
			name: "trace among other output",
			output: "init runtime @0.34 ms, 0.20 ms clock, 0 bytes, 0 allocs\n" +
				"{\"level\":\"INFO\",\"msg\":\"ready\"}\n" +
				"init github.com/laoyou/laoyou/shared/auth @11 ms, 1.7 ms clock, 119720 bytes, 1694 allocs\n" +
				"init broken @1 ms, clock\n",
			want: []coldstart.PackageInit{
				{Package: "runtime", Clock: 200 * time.Microsecond},
				{Package: "github.com/laoyou/laoyou/shared/auth", Clock: 1700 * time.Microsecond, Bytes: 119720, Allocs: 1694},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, coldstart.ParseInitTrace(tt.output))
		})
	}
}

func TestFunctionsAreTheFoldersWithAMain(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, f := range []string{"functions/referral/main.go", "functions/admin/main.go", "functions/notes/README.md"} {
		p := filepath.Join(root, f)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("package main\n"), 0o644))
	}
	fns, err := coldstart.Functions(root)
	require.NoError(t, err)
	require.Equal(t, []coldstart.Binary{
		{Name: "admin", Package: "./functions/admin"},
		{Name: "referral", Package: "./functions/referral"},
	}, fns)

	_, err = coldstart.Functions(t.TempDir())
	require.Error(t, err)
}

// The figures are only worth having for the binaries we ship.
func TestBuildFlagsAreTheMakefiles(t *testing.T) {
	t.Parallel()
	root, err := samtemplate.RepoRoot()
	require.NoError(t, err)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^GOFLAGS_LAMBDA\s*:?=\s*(.*)$`).FindSubmatch(makefile)
	require.NotNil(t, m, "Makefile sets GOFLAGS_LAMBDA")
	require.Equal(t, shellWords(string(m[1])), coldstart.BuildFlags)
}

// shellWords splits a Makefile value as the shell would, for the single
// quotes the Makefile uses.
func shellWords(s string) []string {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for _, c := range strings.TrimSpace(s) {
		switch {
		case c == '\'':
			quoted = !quoted
			inWord = true
		case c == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

func TestStartOnceFailsWhenInitNeverEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		binary string
		want   string
	}{
		{name: "exits cleanly", binary: "true", want: "exited before asking for an invocation: exit status 0"},
		{name: "exits with an error", binary: "false", want: "exited before asking for an invocation: exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin, err := exec.LookPath(tt.binary)
			if err != nil {
				t.Skipf("no %s on this machine", tt.binary)
			}
			_, err = coldstart.StartOnce(context.Background(), bin, tt.name)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// Measure end to end: every function starts against the fake Runtime API
// and asks for an invocation without calling DynamoDB first.
func TestMeasureEveryFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function")
	}
	b := builds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fig, err := coldstart.Measure(ctx, b, coldstart.Options{Rounds: 2, SizeTargets: []coldstart.Target{coldstart.Host()}})
	require.NoError(t, err)

	require.Equal(t, coldstart.Host(), fig.Host)
	require.Equal(t, 2*len(b.Functions()), fig.HelloInit.Samples, "the baseline starts beside every function")
	require.Positive(t, fig.HelloInit.Median)
	require.Len(t, fig.HelloSizes, 1)
	require.Len(t, fig.Functions, len(b.Functions()))
	for i, fn := range fig.Functions {
		require.Equal(t, b.Functions()[i].Name, fn.Name)
		require.Equal(t, 2, fn.Init.Samples, fn.Name)
		require.Positive(t, fn.Init.Median, fn.Name)
		require.GreaterOrEqual(t, fn.Init.P90, fn.Init.Median, fn.Name)
		require.Positive(t, fn.Ratio, fn.Name)
		require.Zero(t, fn.DynamoDBConnections, "%s calls DynamoDB during init", fn.Name)
		require.Len(t, fn.Sizes, 1, fn.Name)
		require.Equal(t, coldstart.Host(), fn.Sizes[0].Target, fn.Name)
		require.Positive(t, fn.Sizes[0].Bytes, fn.Name)
		require.NotEmpty(t, fn.ExtraInits, "%s initialises the SDK, which hello does not", fn.Name)
	}
	require.Contains(t, fig.Markdown(), "| hello (baseline) |")
}

func TestMarkdownSaysWhichGoalsAreMissed(t *testing.T) {
	t.Parallel()
	arm := coldstart.LinuxARM64
	figures := func(fn coldstart.Function) coldstart.Figures {
		return coldstart.Figures{
			Host:        coldstart.LinuxAMD64,
			Rounds:      15,
			SizeTargets: []coldstart.Target{arm},
			HelloInit:   coldstart.Init{Median: 2 * time.Millisecond, P90: 3 * time.Millisecond, Samples: 90},
			HelloSizes:  []coldstart.Size{{Target: arm, Bytes: 5_000_000}},
			Functions:   []coldstart.Function{fn},
		}
	}
	ok := coldstart.Function{
		Name:  "referral",
		Init:  coldstart.Init{Median: 2200 * time.Microsecond, P90: 3 * time.Millisecond, Samples: 15},
		Ratio: 1.1,
		Sizes: []coldstart.Size{{Target: arm, Bytes: 7_340_032}},
	}
	slow := ok
	slow.Ratio = 1.5
	slow.ExtraInits = []coldstart.PackageInit{
		{Package: "github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", Clock: 2400 * time.Microsecond},
		{Package: "github.com/laoyou/laoyou/shared/auth", Clock: 1700 * time.Microsecond},
	}
	big := ok
	big.Sizes = []coldstart.Size{{Target: arm, Bytes: 10_000_001}}
	chatty := ok
	chatty.DynamoDBConnections = 2

	tests := []struct {
		name     string
		fn       coldstart.Function
		met      bool
		contains []string
	}{
		{
			name: "all met",
			fn:   ok,
			met:  true,
			contains: []string{
				"| referral | 2.20 ms | 3.00 ms | 15 | 1.10 | yes | 0 |",
				"| referral | 7.34 MB (7.00 MiB) | yes |",
				"All cold-start and size goals are met.",
			},
		},
		{
			name: "slow init",
			fn:   slow,
			contains: []string{
				"| 1.50 | **no** |",
				"| referral | 2 | 4.10 ms | `aws-sdk-go-v2/service/dynamodb/schemas` 2.40 ms, `shared/auth` 1.70 ms |",
				"- referral: init median 1.50× hello's (goal 1.2×). Heaviest package inits beyond hello's: `aws-sdk-go-v2/service/dynamodb/schemas` 2.40 ms, `shared/auth` 1.70 ms. Work in our packages",
			},
		},
		{name: "big binary", fn: big, contains: []string{"| 10.00 MB (9.54 MiB) | **no** |", "- referral: linux/arm64 binary is 10.00 MB"}},
		{name: "DynamoDB during init", fn: chatty, contains: []string{"- referral: init opened 2 connection(s) to DynamoDB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fig := figures(tt.fn)
			require.Equal(t, tt.met, fig.GoalsMet())
			md := fig.Markdown()
			for _, want := range tt.contains {
				require.Contains(t, md, want)
			}
			require.Equal(t, tt.met, !strings.Contains(md, "Goals missed"))
		})
	}
}

func TestCostlyMatchesWhatInitsTooMuch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pkg    string
		costly bool
	}{
		{"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", true},
		{"github.com/aws/aws-sdk-go-v2/service/kms/schemas", true},
		{"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams", true},
		{"net/rpc", true},
		{"html/template", true},
		{"github.com/aws/aws-sdk-go-v2/service/dynamodb", false},
		{"github.com/aws/aws-sdk-go-v2/service/dynamodb/types", false},
		// attributevalue converts to and from the Streams types, which
		// build nothing at init in the versions without schemas.
		{"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types", false},
		{"github.com/aws/aws-sdk-go-v2/service/kms", false},
		{"github.com/laoyou/laoyou/shared/schemas", false},
		{"text/template", false},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			got := coldstart.Costly([]string{"fmt", tt.pkg})
			if !tt.costly {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.True(t, strings.HasPrefix(got[0], tt.pkg+": "), got[0])
		})
	}
}

// A function's init is held near hello's by what it does not link: the
// check is on the import graph, exact on any machine, where the timings
// that BENCHMARKS.md reports are not.
func TestFunctionsLinkNothingCostlyAtInit(t *testing.T) {
	t.Parallel()
	b := builds(t)
	root, err := samtemplate.RepoRoot()
	require.NoError(t, err)
	for _, fn := range b.Functions() {
		deps, err := coldstart.Deps(context.Background(), root, fn.Package)
		require.NoError(t, err)
		require.Contains(t, deps, "github.com/aws/aws-lambda-go/lambda", "%s's imports are listed", fn.Name)
		require.Empty(t, coldstart.Costly(deps), "%s links packages that cost its cold start", fn.Name)
	}
}
