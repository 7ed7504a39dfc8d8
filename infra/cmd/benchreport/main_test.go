package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChoose(t *testing.T) {
	all := []section{{name: "calls"}, {name: "coldstart"}, {name: "spike"}}
	tests := []struct {
		name    string
		only    string
		want    []string
		wantErr string
	}{
		{name: "all by default", only: "", want: []string{"calls", "coldstart", "spike"}},
		{name: "in run order, whatever the list's", only: "spike, calls", want: []string{"calls", "spike"}},
		{name: "unknown names", only: "coldstart,hotkeys,closer", wantErr: "unknown sections closer, hotkeys"},
	}
	saved := sections
	sections = all
	t.Cleanup(func() { sections = saved })
	for _, tt := range tests {
		got, err := choose(tt.only)
		if tt.wantErr != "" {
			require.ErrorContains(t, err, tt.wantErr, tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		var names []string
		for _, s := range got {
			names = append(names, s.name)
		}
		require.Equal(t, tt.want, names, tt.name)
	}
}

// The command's wiring, with a stand-in measurement: the section lands in
// the report under its heading and the run line, next to what was there.
func TestRunWritesEachSection(t *testing.T) {
	saved := sections
	sections = []section{{
		name:    "fake",
		heading: "Fake figures",
		measure: func(context.Context, setup) (result, error) {
			return result{markdown: "| a | b |\n", goalsMet: false, summary: "two figures, one too high"}, nil
		},
	}}
	t.Cleanup(func() { sections = saved })

	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(out, []byte("# Benchmarks\n\n<!-- section:other -->\nkept\n<!-- /section:other -->\n"), 0o644))
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-out", out}, &stdout, &stderr))

	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(got), "<!-- section:other -->\nkept\n<!-- /section:other -->\n")
	require.Regexp(t, "(?s)<!-- section:fake -->\n## Fake figures\n\nMeasured .* commit [^\n]*\\. \\*\\*Goals missed\\.\\*\\* Two figures, one too high\\.\n\n\\| a \\| b \\|\n<!-- /section:fake -->\n", string(got))
	require.Regexp(t, "(?s)<!-- section:summary -->\n## Goals at a glance\n.*\\| Fake figures \\| \\*\\*Goals missed\\.\\*\\* Two figures, one too high\\. \\| .* UTC, `[^`]+` \\|\n<!-- /section:summary -->\n$", string(got))
	require.Contains(t, stdout.String(), "## Fake figures")
	require.Contains(t, stderr.String(), "fake: goals missed")
}

// Every performance goal of docs/DESIGN.md has its section, each with a
// name of its own.
func TestSections(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range sections {
		require.False(t, seen[s.name], "section %s listed twice", s.name)
		seen[s.name] = true
		require.NotEmpty(t, s.heading, s.name)
		require.NotNil(t, s.measure, s.name)
	}
	require.Equal(t, []string{"calls", "overhead", "spike", "coldstart", "hotkeys", "closer", "wechat"}, names())
}

func TestSummarize(t *testing.T) {
	saved := sections
	sections = []section{{name: "calls", heading: "Calls"}, {name: "spike", heading: "Spike"}, {name: "closer", heading: "Closer"}}
	t.Cleanup(func() { sections = saved })
	doc := "# Benchmarks\n\n" +
		"<!-- section:spike -->\n## Spike\n\nMeasured 2026-03-04 05:06 UTC on linux/amd64, 2 cores (AMD EPYC 2.5 GHz), go1.26.8, " +
		"commit `c35d810` plus uncommitted Go changes. **Goals missed.** Ratio 0.58 | low.\n\nbody\n<!-- /section:spike -->\n" +
		"<!-- section:calls -->\n## Calls\n\nMeasured 2026-03-04 05:00 UTC on linux/amd64, 2 cores (x), go1.26.8, " +
		"commit `c35d810`. Goals met. All routes.\n<!-- /section:calls -->\n"
	require.Equal(t, "## Goals at a glance\n\n"+
		"Each section's verdict as last measured (its own run line says when, where and on which commit).\n\n"+
		"| measurement | verdict | measured |\n|---|---|---|\n"+
		"| Calls | Goals met. All routes. | 2026-03-04 05:00 UTC, `c35d810` |\n"+
		"| Spike | **Goals missed.** Ratio 0.58 \\| low. | 2026-03-04 05:06 UTC, `c35d810` |\n"+
		"| Closer | **not measured yet** | |\n", summarize(doc))
}
