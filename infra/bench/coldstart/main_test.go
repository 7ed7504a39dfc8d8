package coldstart_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/coldstart"
	"github.com/laoyou/laoyou/infra/samtemplate"
)

// buildDir holds the binaries of this test process, shared by its tests
// and benchmarks so that each platform is built once per run.
var buildDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "coldstart-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	buildDir = dir
	return m.Run()
}

var shared struct {
	once   sync.Once
	builds *coldstart.Builds
	err    error
}

// builds gives every function of the repository and the baseline, built on
// demand into buildDir.
func builds(tb testing.TB) *coldstart.Builds {
	tb.Helper()
	shared.once.Do(func() {
		root, err := samtemplate.RepoRoot()
		if err != nil {
			shared.err = err
			return
		}
		fns, err := coldstart.Functions(root)
		if err != nil {
			shared.err = err
			return
		}
		shared.builds = coldstart.NewBuilds(root, buildDir, fns)
	})
	require.NoError(tb, shared.err)
	return shared.builds
}
