// Package report writes BENCHMARKS.md, the file where `make bench` leaves
// its figures, one section per measurement.
//
// Each section sits between two marker lines,
//
//	<!-- section:coldstart -->
//	...
//	<!-- /section:coldstart -->
//
// so that a run which measures one thing replaces that section and leaves
// every other one as it was. Run describes where and when figures were
// taken, for the line each section starts with.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Title opens a BENCHMARKS.md that UpdateSection creates.
const Title = "# Benchmarks\n\n" +
	"Written by `make bench` (`go run ./infra/cmd/benchreport`). Each section is replaced as a whole when it is " +
	"measured again; the goals are those of docs/DESIGN.md, Performance. Figures are ratios within one run or counts: " +
	"the machines are shared and noisy, so absolute times say little. The same measurements run as Go benchmarks " +
	"(`go test -run '^$' -bench . ./infra/bench/...`), whose metrics benchstat compares across commits.\n"

var sectionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// UpdateSection makes the section called name in the Markdown file at path
// hold markdown: it replaces the section if the file has it, appends it
// otherwise, and creates the file (with Title) if there is none. The rest of
// the file is kept byte for byte. A file whose markers for name are
// unbalanced is left alone and reported, rather than guessed at.
func UpdateSection(path, name, markdown string) error {
	if !sectionName.MatchString(name) {
		return fmt.Errorf("report: section name %q: use lower-case letters, digits and dashes", name)
	}
	old, err := os.ReadFile(path)
	mode := os.FileMode(0o644)
	switch {
	case errors.Is(err, os.ErrNotExist):
		old = []byte(Title)
	case err != nil:
		return fmt.Errorf("report: %w", err)
	default:
		if info, err := os.Stat(path); err == nil {
			mode = info.Mode().Perm()
		}
	}
	updated, err := replaceSection(old, name, markdown)
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return writeAtomically(path, updated, mode)
}

// replaceSection returns doc with the section name holding markdown.
func replaceSection(doc []byte, name, markdown string) ([]byte, error) {
	begin, end := "<!-- section:"+name+" -->", "<!-- /section:"+name+" -->"
	block := begin + "\n" + strings.Trim(markdown, "\n") + "\n" + end + "\n"

	starts, ends := markerLines(doc, begin), markerLines(doc, end)
	switch {
	case len(starts) == 0 && len(ends) == 0:
		out := bytes.TrimRight(doc, "\n")
		if len(out) > 0 {
			out = append(out, "\n\n"...)
		}
		return append(out, block...), nil
	case len(starts) != 1 || len(ends) != 1 || ends[0].start < starts[0].end:
		return nil, fmt.Errorf("section %q: found %d opening and %d closing markers out of order or repeated; fix the file by hand",
			name, len(starts), len(ends))
	}
	var out []byte
	out = append(out, doc[:starts[0].start]...)
	out = append(out, block...)
	return append(out, doc[ends[0].end:]...), nil
}

// span is a marker line's bytes, its newline included.
type span struct{ start, end int }

// markerLines finds the lines of doc that are exactly marker, so that a
// marker quoted inside a line of prose or code does not count.
func markerLines(doc []byte, marker string) []span {
	var found []span
	for pos := 0; pos < len(doc); {
		end := bytes.IndexByte(doc[pos:], '\n')
		next := len(doc)
		if end >= 0 {
			next = pos + end + 1
		}
		line := strings.TrimRight(string(doc[pos:next]), "\r\n")
		if strings.TrimSpace(line) == marker {
			found = append(found, span{start: pos, end: next})
		}
		pos = next
	}
	return found
}

// writeAtomically replaces path with data so that a reader, or a run that
// is interrupted, never sees half a file.
func writeAtomically(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("report: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
