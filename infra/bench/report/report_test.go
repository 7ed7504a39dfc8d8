package report_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/report"
)

func TestUpdateSection(t *testing.T) {
	t.Parallel()
	const coldstart = "<!-- section:coldstart -->\nold figures\n<!-- /section:coldstart -->\n"
	const calls = "<!-- section:calls -->\n| route | calls |\n|---|---|\n<!-- /section:calls -->\n"
	tests := []struct {
		name     string
		existing *string // nil: no file
		section  string
		markdown string
		want     string
	}{
		{
			name:     "new file",
			section:  "coldstart",
			markdown: "## Cold start\n\nfigures\n",
			want:     report.Title + "\n<!-- section:coldstart -->\n## Cold start\n\nfigures\n<!-- /section:coldstart -->\n",
		},
		{
			name:     "existing section replaced, others kept",
			existing: ptr("# Benchmarks\n\nintro\n\n" + calls + "\n" + coldstart + "\nnotes by hand\n"),
			section:  "coldstart",
			markdown: "new figures",
			want: "# Benchmarks\n\nintro\n\n" + calls + "\n" +
				"<!-- section:coldstart -->\nnew figures\n<!-- /section:coldstart -->\n\nnotes by hand\n",
		},
		{
			name:     "new section appended after the others",
			existing: ptr("# Benchmarks\n\n" + coldstart + "\n\n"),
			section:  "calls",
			markdown: "\n\n| route | calls |\n|---|---|\n\n",
			want:     "# Benchmarks\n\n" + coldstart + "\n" + calls,
		},
		{
			name:     "a section whose name starts another's is its own",
			existing: ptr("<!-- section:coldstart-arm -->\nkeep\n<!-- /section:coldstart-arm -->\n"),
			section:  "coldstart",
			markdown: "x",
			want:     "<!-- section:coldstart-arm -->\nkeep\n<!-- /section:coldstart-arm -->\n\n<!-- section:coldstart -->\nx\n<!-- /section:coldstart -->\n",
		},
		{
			name:     "markers quoted in prose are not markers",
			existing: ptr("Sections look like `<!-- section:coldstart -->`.\n"),
			section:  "coldstart",
			markdown: "x",
			want:     "Sections look like `<!-- section:coldstart -->`.\n\n<!-- section:coldstart -->\nx\n<!-- /section:coldstart -->\n",
		},
		{
			name:     "file without a final newline",
			existing: ptr("<!-- section:coldstart -->\nold\n<!-- /section:coldstart -->"),
			section:  "coldstart",
			markdown: "new",
			want:     "<!-- section:coldstart -->\nnew\n<!-- /section:coldstart -->\n",
		},
		{
			name:     "writing the same section twice changes nothing more",
			existing: ptr(report.Title + "\n<!-- section:coldstart -->\nsame\n<!-- /section:coldstart -->\n"),
			section:  "coldstart",
			markdown: "same\n",
			want:     report.Title + "\n<!-- section:coldstart -->\nsame\n<!-- /section:coldstart -->\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
			if tt.existing != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tt.existing), 0o644))
			}
			require.NoError(t, report.UpdateSection(path, tt.section, tt.markdown))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestUpdateSectionLeavesABrokenFileAlone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing string
		section  string
	}{
		{name: "no closing marker", existing: "<!-- section:coldstart -->\nfigures\n", section: "coldstart"},
		{name: "no opening marker", existing: "figures\n<!-- /section:coldstart -->\n", section: "coldstart"},
		{name: "closing before opening", existing: "<!-- /section:coldstart -->\n<!-- section:coldstart -->\n", section: "coldstart"},
		{
			name:     "section twice",
			existing: "<!-- section:coldstart -->\na\n<!-- /section:coldstart -->\n<!-- section:coldstart -->\nb\n<!-- /section:coldstart -->\n",
			section:  "coldstart",
		},
		{name: "name that could break a marker", existing: "", section: "cold start -->"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
			require.NoError(t, os.WriteFile(path, []byte(tt.existing), 0o644))
			require.Error(t, report.UpdateSection(path, tt.section, "new"))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, tt.existing, string(got))
		})
	}
}

func TestUpdateSectionKeepsTheFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(path, []byte("# B\n"), 0o600))
	require.NoError(t, report.UpdateSection(path, "coldstart", "x"))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".BENCHMARKS.md.*"))
	require.NoError(t, err)
	require.Empty(t, leftovers, "no temporary files are left behind")
}

func TestCPUModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cpuinfo string
		want    string
	}{
		{
			name:    "x86",
			cpuinfo: "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  7R13 Processor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7R13 Processor\n",
			want:    "AMD EPYC 7R13 Processor",
		},
		{
			name:    "arm64 with a model name",
			cpuinfo: "processor\t: 0\nBogoMIPS\t: 243.75\nCPU part\t: 0xd40\nmodel name\t: Neoverse-V1\n",
			want:    "Neoverse-V1",
		},
		{
			name:    "older arm kernel",
			cpuinfo: "Processor\t: AArch64 Processor rev 1 (aarch64)\nHardware\t: Graviton2\n",
			want:    "Graviton2",
		},
		{name: "nothing useful", cpuinfo: "processor\t: 0\nflags\t\t: fpu\n", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, report.CPUModel([]byte(tt.cpuinfo)))
		})
	}
}

func TestRunMarkdown(t *testing.T) {
	t.Parallel()
	r := report.Run{
		Date: time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC), OS: "linux", Arch: "amd64", Cores: 2,
		CPU: "AMD EPYC", GoVersion: "go1.26.8", Commit: "c35d810",
	}
	require.Equal(t, "Measured 2026-03-04 05:06 UTC on linux/amd64, 2 cores (AMD EPYC), go1.26.8, commit `c35d810`.", r.Markdown())
	r.Dirty = true
	require.Contains(t, r.Markdown(), "commit `c35d810` plus uncommitted Go changes.")
}

func ptr(s string) *string { return &s }
