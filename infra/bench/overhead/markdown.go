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
		"decision and encoding are all that separate the two. With the key, its two extra writes make the rest.\n", f.Plain.Ratio)
	if !f.GoalsMet() {
		fmt.Fprintf(&b, "\n**Goal missed:** with an Idempotency-Key the handler's median is %.2f× the bare calls' (goal %.2f×). "+
			"The key's claim (a conditional PutItem) and its stored response (an UpdateItem) are two more round trips "+
			"to DynamoDB around the join. What would fix it: write the idempotency record inside the join's own "+
			"TransactWriteItems (a Put conditional on the key not existing, holding the response), so a keyed join "+
			"is still one GetItem and one write; a retry then finds the record, or the cancelled transaction names it. "+
			"Or keep the claim but store the response without waiting for it.\n", f.Keyed.Ratio, MaxRatio)
	}
	return b.String()
}

// Summary is the section's verdict in a sentence.
func (f Figures) Summary() string {
	return fmt.Sprintf("a join through the handler with an Idempotency-Key takes %.2f× the bare calls' median (goal at most %.2f×); without the key %.2f×",
		f.Keyed.Ratio, MaxRatio, f.Plain.Ratio)
}
