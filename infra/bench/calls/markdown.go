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
		"**+ key** is the warm request with an `Idempotency-Key`: every route writes the key's record in its own " +
		"write, so it should make the same calls as without it. Goal: a write route (POST, " +
		"PUT) makes 1 write call and at most 1 read, with or without a key; a read route (GET) at most 1 call; judged " +
		"cold, warm and warm with a key.\n\n")
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
		case !r.MeetsGoal(r.Cold) || !r.MeetsGoal(r.Warm):
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
		if r.Measured() && !r.KeyedMeetsGoal() {
			missed = append(missed, fmt.Sprintf("- `%s` with an Idempotency-Key: %s (%s), goal 1 write and at most 1 read. "+
				"The route writes the key's record in its own write, yet makes more calls with a key than without: a "+
				"keyed request should make the same calls.", r.Route.Key, callWords(*r.Keyed), strings.Join(r.Keyed.Ops, ", ")))
		}
	}
	if len(missed) > 0 {
		b.WriteString("\n**Goals missed:**\n\n" + strings.Join(missed, "\n") + "\n")
	}
	return b.String()
}

func counts(c Count) string { return fmt.Sprintf("%d + %d", c.Reads, c.Writes) }

func verdict(r Row) string {
	cold, warm, keyed := r.MeetsGoal(r.Cold), r.MeetsGoal(r.Warm), r.KeyedMeetsGoal()
	var why []string
	if warm && !cold {
		why = append(why, fmt.Sprintf("cold %d + %d (warm yes)", r.Cold.Reads, r.Cold.Writes))
	}
	if !keyed {
		why = append(why, fmt.Sprintf("with a key %d + %d", r.Keyed.Reads, r.Keyed.Writes))
	}
	switch {
	case cold && warm && keyed:
		return "yes"
	case len(why) == 0:
		return "**no**"
	case !warm:
		return "**no**; " + strings.Join(why, "; ")
	}
	return "**no**: " + strings.Join(why, "; ")
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
	var missed, keyedOnly, unmeasured []string
	for _, r := range f.Rows {
		switch {
		case !r.Measured():
			unmeasured = append(unmeasured, "`"+r.Route.Key+"`")
		case r.GoalMet():
			measured++
			met++
		case r.MeetsGoal(r.Cold) && r.MeetsGoal(r.Warm):
			measured++
			keyedOnly = append(keyedOnly, fmt.Sprintf("`%s` (%s)", r.Route.Key, callWords(*r.Keyed)))
		default:
			measured++
			if r.MeetsGoal(r.Warm) {
				missed = append(missed, fmt.Sprintf("`%s` (cold only: %s)", r.Route.Key, callWords(r.Cold)))
			} else {
				missed = append(missed, fmt.Sprintf("`%s` (warm: %s)", r.Route.Key, callWords(r.Warm)))
			}
		}
	}
	s := fmt.Sprintf("%d of %d routes within their call budget cold, warm and with an Idempotency-Key", met, measured)
	if len(missed) > 0 {
		s += "; over it: " + strings.Join(missed, ", ")
	}
	if len(keyedOnly) > 0 {
		s += "; over it only with a key: " + strings.Join(keyedOnly, ", ")
	}
	if len(unmeasured) > 0 {
		s += "; NOT MEASURED: " + strings.Join(unmeasured, ", ")
	}
	return s
}
