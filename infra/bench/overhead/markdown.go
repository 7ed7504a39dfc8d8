package overhead

import (
	"fmt"
	"strings"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/samples"
)

// Markdown is the report's section body.
func (f Figures) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "A join through the whole handler against the DynamoDB calls it makes, issued bare with the same client "+
		"against the same DynamoDB Local: %d rounds, each one join per side in turn (the side that goes first rotates), after %d "+
		"unmeasured rounds. Every join goes to a room of its own (rooms of 3, opened beforehand with their leader only), so "+
		"each side does the same work: one member joins a room of one, which never fills and is never contended; "+
		"joining one room repeatedly would grow its roster and end in the filling join, which writes more. "+
		"The bare calls are the store's own: the handler is run once per room beforehand with its write captured "+
		"and not sent. %s Goal: the handler's median at most %.2f× the bare calls', with an Idempotency-Key.\n\n",
		f.Rounds, warmupRounds(f.Rounds), apistack.StreamNote, MaxRatio)
	b.WriteString("| side | DynamoDB calls | median | p99 | median ratio to bare | goal met |\n|---|---|---:|---:|---:|---|\n")
	for _, s := range []Side{f.Keyed, f.Plain, f.Bare} {
		met := ""
		switch {
		case s.Name == f.Keyed.Name && f.GoalsMet():
			met = "yes"
		case s.Name == f.Keyed.Name:
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f ms | %.2f ms | %.2f | %s |\n",
			s.Name, s.Calls, samples.Ms(s.Times.Median), samples.Ms(s.Times.P99), s.Ratio, met)
	}
	b.WriteString("\n")
	for _, s := range []Side{f.Keyed, f.Plain, f.Bare} {
		fmt.Fprintf(&b, "- %s: %s.\n", s.Name, s.About)
	}
	fmt.Fprintf(&b, "\nWithout the key the handler's median is %.2f× the bare calls': decoding, claims, the domain's "+
		"decision and encoding are all that separate the two. %s\n", f.Plain.Ratio, f.keyCost())
	if !f.GoalsMet() {
		fmt.Fprintf(&b, "\n**Goal missed:** with an Idempotency-Key the handler's median is %.2f× the bare calls' (goal %.2f×). %s\n",
			f.Keyed.Ratio, MaxRatio, f.keyFix())
	}
	return b.String()
}

// keyCost says what the key adds, from the calls each side made.
func (f Figures) keyCost() string {
	if f.Keyed.Calls == f.Plain.Calls {
		return fmt.Sprintf("With the key the join makes the same calls: the key's record is one more item in the join's "+
			"own TransactWriteItems, so the %.2f ms between the keyed and the plain medians is that item's write and "+
			"condition and the answer encoded for it.", samples.Ms(f.Keyed.Times.Median-f.Plain.Times.Median))
	}
	return fmt.Sprintf("With the key the join makes %s where it makes %s without: the calls the key adds make the rest.",
		f.Keyed.Calls, f.Plain.Calls)
}

// keyFix says what would bring a keyed join within the goal.
func (f Figures) keyFix() string {
	if f.Keyed.Calls == f.Plain.Calls {
		return "No round trip is left to remove: the key rides in the join's own write. What is left is the " +
			"record's item in the transaction and the answer's encoding; a smaller record (the payload hash, status and " +
			"body only) is the one lever left in the handler. The figure moves by several hundredths from run to run " +
			"on a shared machine: several runs' range is the one to judge."
	}
	return "The key's own calls are round trips around the join. What would fix it: write the idempotency record " +
		"inside the join's own TransactWriteItems (a Put conditional on the key not existing, holding the response), " +
		"so a keyed join is the same calls as one without a key."
}

// Summary is the section's verdict in a sentence.
func (f Figures) Summary() string {
	return fmt.Sprintf("a join through the handler with an Idempotency-Key takes %.2f× the bare calls' median (goal at most %.2f×); without the key %.2f×",
		f.Keyed.Ratio, MaxRatio, f.Plain.Ratio)
}
