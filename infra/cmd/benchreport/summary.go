package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/laoyou/laoyou/infra/bench/report"
)

// summaryName is the section at the top of the report that gathers every
// section's verdict as last measured, so a reader sees all goals at once.
const summaryName = "summary"

// verdictLine is a section's run line: "Measured …, commit `…`. Goals …".
var verdictLine = regexp.MustCompile("(?m)^Measured ([^\\n]*?), commit `([^`]*)`[^.]*\\. ((?:Goals met|\\*\\*Goals missed)[^\\n]*)$")

// writeSummary rebuilds the summary section from the sections in the
// report at path, in the order of sections.
func writeSummary(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return report.UpdateSection(path, summaryName, summarize(string(doc)))
}

// summarize is the summary section of doc.
func summarize(doc string) string {
	var b strings.Builder
	b.WriteString("## Goals at a glance\n\n" +
		"Each section's verdict as last measured (its own run line says when, where and on which commit).\n\n" +
		"| measurement | verdict | measured |\n|---|---|---|\n")
	for _, sec := range sections {
		begin, end := "<!-- section:"+sec.name+" -->\n", "<!-- /section:"+sec.name+" -->"
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			fmt.Fprintf(&b, "| %s | **not measured yet** | |\n", sec.heading)
			continue
		}
		m := verdictLine.FindStringSubmatch(doc[i:j])
		if m == nil {
			fmt.Fprintf(&b, "| %s | (no verdict in its section) | |\n", sec.heading)
			continue
		}
		when, _, _ := strings.Cut(m[1], " on ")
		fmt.Fprintf(&b, "| %s | %s | %s, `%s` |\n", sec.heading, strings.ReplaceAll(m[3], "|", "\\|"), when, m[2])
	}
	return b.String()
}
