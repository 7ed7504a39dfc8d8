package calls

import (
	"fmt"
	"strings"
)

// Markdown is the report's section body.
func (f Figures) Markdown() string {
	var b strings.Builder
	for _, r := range f.Rows {
		if !r.Measured() {
			fmt.Fprintf(&b, "**NOT MEASURED: `%s` (%s) has no scenario in `infra/bench/calls/scenarios.go`; its calls are unknown.**\n\n",
				r.Route.Key, r.Route.Function)
		}
	}
	for _, route := range f.Stale {
		fmt.Fprintf(&b, "**A scenario measures `%s`, which no function serves any more.**\n\n", route)
	}
	b.WriteString("DynamoDB calls per request, counted by the middleware of `shared/dynamo` (`dynamo.Calls`) while the " +
		"functions' handlers serve a request that does the route's work (a claim that issues a coupon, a join that " +
		"takes a seat) against DynamoDB Local. **Cold** is the first request of a new execution environment, nothing " +
		"cached; **warm** is the next one, with tenant settings, deals, templates and rules cached for a few seconds; " +
		"**+ key** is the warm request with an `Idempotency-Key`, which adds two writes: the conditional PutItem that " +
		"claims the key and the UpdateItem that stores the response. Goal: a write route (POST, PUT) makes 1 write " +
		"call and at most 1 read, a read route (GET) at most 1 call; judged cold and warm, without a key.\n\n")
	b.WriteString("| route | cold: reads + writes | warm: reads + writes | warm: calls in order | + key: reads + writes | goal met |\n")
	b.WriteString("|---|---:|---:|---|---:|---|\n")
	for _, r := range f.Rows {
		if !r.Measured() {
			fmt.Fprintf(&b, "| `%s` | **NOT MEASURED** | **NOT MEASURED** | | | **not measured** |\n", r.Route.Key)
			continue
		}
		keyed := ""
		if r.Keyed != nil {
			keyed = counts(*r.Keyed)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
			r.Route.Key, counts(r.Cold), counts(r.Warm), strings.Join(r.Warm.Ops, ", "), keyed, verdict(r))
	}

	var notes []string
	for _, r := range f.Rows {
		if r.Measured() && r.Scenario.Note != "" {
			notes = append(notes, fmt.Sprintf("- `%s`: %s.", r.Route.Key, r.Scenario.Note))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nWhat each request did, where the calls need saying:\n\n" + strings.Join(notes, "\n") + "\n")
	}

	var missed []string
	for _, r := range f.Rows {
		switch {
		case !r.Measured():
			missed = append(missed, fmt.Sprintf("- `%s`: not measured. Add a scenario for it to `infra/bench/calls/scenarios.go`.", r.Route.Key))
		case !r.GoalMet():
			fix := r.Scenario.Fix
			switch {
			case fix != "":
			case r.MeetsGoal(r.Warm):
				fix = "Only cold, when the configuration it needs is not cached yet: read it with the route's own " +
					"read in one BatchGetItem, so a cold request makes one read call too."
			default:
				fix = "Cache the configuration it reads, or fold the read into the write's condition."
			}
			missed = append(missed, fmt.Sprintf("- `%s`: %s, goal %s. %s", r.Route.Key, budgetUse(r), goalOf(r), fix))
		}
	}
	if len(missed) > 0 {
		b.WriteString("\n**Goals missed:**\n\n" + strings.Join(missed, "\n") + "\n")
	}
	return b.String()
}

func counts(c Count) string { return fmt.Sprintf("%d + %d", c.Reads, c.Writes) }

func verdict(r Row) string {
	cold, warm := r.MeetsGoal(r.Cold), r.MeetsGoal(r.Warm)
	switch {
	case cold && warm:
		return "yes"
	case warm:
		return fmt.Sprintf("**no**: cold %d + %d (warm yes)", r.Cold.Reads, r.Cold.Writes)
	}
	return "**no**"
}

func goalOf(r Row) string {
	if r.Route.Writes() {
		return "1 write and at most 1 read"
	}
	return "at most 1 call"
}

func budgetUse(r Row) string {
	return fmt.Sprintf("cold %s, warm %s", callWords(r.Cold), callWords(r.Warm))
}

// callWords is a count in words: "1 read + 2 writes".
func callWords(c Count) string {
	return plural(c.Reads, "read") + " + " + plural(c.Writes, "write")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Summary is the section's verdict in a sentence.
func (f Figures) Summary() string {
	var met, measured int
	var missed, unmeasured []string
	for _, r := range f.Rows {
		switch {
		case !r.Measured():
			unmeasured = append(unmeasured, "`"+r.Route.Key+"`")
		case r.GoalMet():
			measured++
			met++
		default:
			measured++
			if r.MeetsGoal(r.Warm) {
				missed = append(missed, fmt.Sprintf("`%s` (cold only: %s)", r.Route.Key, callWords(r.Cold)))
			} else {
				missed = append(missed, fmt.Sprintf("`%s` (warm: %s)", r.Route.Key, callWords(r.Warm)))
			}
		}
	}
	s := fmt.Sprintf("%d of %d routes within their call budget cold and warm", met, measured)
	if len(missed) > 0 {
		s += "; over it: " + strings.Join(missed, ", ")
	}
	if len(unmeasured) > 0 {
		s += "; NOT MEASURED: " + strings.Join(unmeasured, ", ")
	}
	return s
}
