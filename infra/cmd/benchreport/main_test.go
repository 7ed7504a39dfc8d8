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
			return result{markdown: "| a | b |\n", goalsMet: false}, nil
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
	require.Regexp(t, "(?s)<!-- section:fake -->\n## Fake figures\n\nMeasured .* commit .*\\.\n\n\\| a \\| b \\|\n<!-- /section:fake -->\n$", string(got))
	require.Contains(t, stdout.String(), "## Fake figures")
	require.Contains(t, stderr.String(), "fake: goals missed")
}
