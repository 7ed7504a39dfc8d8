package report

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Run is when, where and on what code figures were taken: what a reader
// needs to compare two versions of BENCHMARKS.md.
type Run struct {
	Date      time.Time
	OS, Arch  string
	Cores     int    // CPUs this process may use
	CPU       string // the model, from /proc/cpuinfo where there is one
	GoVersion string // the toolchain that built the binaries measured
	Commit    string // short hash of HEAD, or "unknown" outside git
	Dirty     bool   // the Go code measured differs from Commit
}

// CurrentRun describes this machine and the repository at root now.
func CurrentRun(ctx context.Context, root string) Run {
	r := Run{
		Date:      time.Now().UTC(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		Cores:     runtime.NumCPU(),
		CPU:       "unknown CPU",
		GoVersion: runtime.Version(),
		Commit:    "unknown",
	}
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := CPUModel(info); m != "" {
			r.CPU = m
		}
	}
	// The go command may switch toolchains (go.mod's go line), so ask it
	// rather than trust the version this command was built with.
	if v, err := output(ctx, root, "go", "env", "GOVERSION"); err == nil && v != "" {
		r.GoVersion = v
	}
	if c, err := output(ctx, root, "git", "rev-parse", "--short", "HEAD"); err == nil && c != "" {
		r.Commit = c
		// Only what goes into the binaries: new or changed Go files and
		// modules, not this report or other notes.
		status, err := output(ctx, root, "git", "status", "--porcelain", "--", "*.go", "go.mod", "go.sum")
		r.Dirty = err == nil && status != ""
	}
	return r
}

// Markdown is the line that opens a section: date, machine, Go, commit.
func (r Run) Markdown() string {
	commit := "`" + r.Commit + "`"
	if r.Dirty {
		commit += " plus uncommitted Go changes"
	}
	return fmt.Sprintf("Measured %s on %s/%s, %d cores (%s), %s, commit %s.",
		r.Date.Format("2006-01-02 15:04 MST"), r.OS, r.Arch, r.Cores, r.CPU, r.GoVersion, commit)
}

// CPUModel finds the processor's name in the text of /proc/cpuinfo: the
// "model name" line on x86 and most arm64 kernels, "Hardware" or "Processor"
// on older arm ones. It returns "" when there is none.
func CPUModel(cpuinfo []byte) string {
	fields := map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, seen := fields[k]; !seen && v != "" {
			fields[k] = v
		}
	}
	for _, k := range []string{"model name", "Hardware", "Processor", "cpu model"} {
		if v := fields[k]; v != "" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}
