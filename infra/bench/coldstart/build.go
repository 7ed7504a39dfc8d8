package coldstart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// BuildFlags are the go build flags of the binaries we ship (the Makefile's
// GOFLAGS_LAMBDA), so that sizes and init times are those of what Lambda
// runs; a test keeps the two in step.
var BuildFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w -buildid="}

// HelloPackage is the hello-world aws-lambda-go function that cold starts
// are compared with. It lives under testdata so that `go build ./...` and
// `go vet ./...` leave it alone.
const HelloPackage = "./infra/bench/coldstart/testdata/hello"

// HelloName is the baseline's name in builds and figures.
const HelloName = "hello"

// Target is a platform to build for.
type Target struct{ GOOS, GOARCH string }

func (t Target) String() string { return t.GOOS + "/" + t.GOARCH }

// The platforms whose binary sizes are reported: Lambda runs the functions
// on arm64 (template.yaml), amd64 is the other architecture Lambda offers.
var (
	LinuxARM64 = Target{GOOS: "linux", GOARCH: "arm64"}
	LinuxAMD64 = Target{GOOS: "linux", GOARCH: "amd64"}
)

// Host is the platform of this machine, the only one whose binaries can be
// started to measure their init.
func Host() Target { return Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH} }

// Binary is one main package to build and measure.
type Binary struct {
	Name    string // the function's name: its folder under functions/
	Package string // the package path relative to the repository root
}

// Functions lists the Lambda functions of the repository at root: every
// folder under functions/ with a main.go, by name.
func Functions(root string) ([]Binary, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, fmt.Errorf("coldstart: %w", err)
	}
	var fns []Binary
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); err != nil {
			continue
		}
		fns = append(fns, Binary{Name: e.Name(), Package: "./functions/" + e.Name()})
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("coldstart: no functions under %s", filepath.Join(root, "functions"))
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns, nil
}

// Builds are the functions and the hello baseline of one run, built for a
// platform when first asked and kept in Dir for the rest of the run.
type Builds struct {
	root      string
	dir       string
	functions []Binary

	mu    sync.Mutex
	paths map[Target]map[string]string // target → name → executable
}

// NewBuilds prepares builds of functions (and the hello baseline) from the
// repository at root into dir, which the caller owns and removes.
func NewBuilds(root, dir string, functions []Binary) *Builds {
	return &Builds{root: root, dir: dir, functions: functions, paths: map[Target]map[string]string{}}
}

// Functions are the functions these builds measure.
func (b *Builds) Functions() []Binary { return b.functions }

// For builds every binary for target, once, and returns their paths by
// name (the functions' names and HelloName).
func (b *Builds) For(ctx context.Context, target Target) (map[string]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if paths, ok := b.paths[target]; ok {
		return paths, nil
	}
	out := filepath.Join(b.dir, target.GOOS+"_"+target.GOARCH)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("coldstart: %w", err)
	}
	pkgs := []string{HelloPackage}
	paths := map[string]string{HelloName: filepath.Join(out, HelloName)}
	for _, fn := range b.functions {
		if fn.Name == HelloName || path.Base(fn.Package) != fn.Name {
			// go build names each executable after its package folder.
			return nil, fmt.Errorf("coldstart: cannot build %s as %q", fn.Package, fn.Name)
		}
		pkgs = append(pkgs, fn.Package)
		paths[fn.Name] = filepath.Join(out, fn.Name)
	}
	// One go command for all packages: it links them in parallel and
	// compiles the shared dependencies once.
	args := append(append([]string{"build"}, BuildFlags...), "-o", out+string(filepath.Separator))
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+target.GOOS, "GOARCH="+target.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("coldstart: building for %s: %w\n%s", target, err, msg)
	}
	b.paths[target] = paths
	return paths, nil
}

// Size is a binary's size on one platform.
type Size struct {
	Target Target
	Bytes  int64
}

// Sizes builds for each target and returns each binary's sizes by name,
// in the order of targets.
func (b *Builds) Sizes(ctx context.Context, targets []Target) (map[string][]Size, error) {
	sizes := map[string][]Size{}
	for _, t := range targets {
		paths, err := b.For(ctx, t)
		if err != nil {
			return nil, err
		}
		for name, p := range paths {
			info, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("coldstart: %w", err)
			}
			sizes[name] = append(sizes[name], Size{Target: t, Bytes: info.Size()})
		}
	}
	return sizes, nil
}
