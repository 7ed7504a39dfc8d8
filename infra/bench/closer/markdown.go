package closer

import (
	"fmt"
	"strings"
)

// GoalsMet reports whether the closer's reads grow with the expired rooms
// and not with the open ones: between runs with the same expired rooms,
// the items read differ by at most a tenth of them; with more expired
// rooms and the same open ones, more items are read.
func (f Figures) GoalsMet() bool { return len(f.problems()) == 0 }

func (f Figures) problems() []string {
	var out []string
	for _, a := range f.Runs {
		for _, b := range f.Runs {
			switch {
			case a.Expired == b.Expired && b.Open > a.Open && b.ItemsRead-a.ItemsRead > a.Expired/10:
				out = append(out, fmt.Sprintf("with %d expired rooms, %d open ones cost %d items read and %d cost %d: "+
					"reads grow with the open rooms", a.Expired, a.Open, a.ItemsRead, b.Open, b.ItemsRead))
			case a.Open == b.Open && b.Expired > a.Expired && b.ItemsRead <= a.ItemsRead:
				out = append(out, fmt.Sprintf("among %d open rooms, %d expired cost %d items read and %d cost %d: "+
					"reads do not follow the expired rooms", a.Open, a.Expired, a.ItemsRead, b.Expired, b.ItemsRead))
			}
		}
	}
	return out
}

// Markdown is the report's section body.
func (f Figures) Markdown() string {
	var b strings.Builder
	b.WriteString("One closer run (as its schedule runs it, with the function's 50-second timeout) to settle N expired " +
		"rooms among M open ones. The expired rooms are opened through the API and their timer run out (the " +
		"functions' clock moves past it); the open ones are seeded with BatchWriteItem as copies of the room item a " +
		"real open writes, on the Expiring index like any open room, due a day later. Reads are counted by the call " +
		"middleware and logged with the items each examined (ScannedCount; 1 for a GetItem that found its item) and " +
		"the read capacity DynamoDB Local reports. Goal: the items read grow with N and stay flat in M.\n\n")
	b.WriteString("| N expired | M open | settled | read calls | Query calls (Expiring) | index items examined | GetItem calls | items read | items read per expired room | read capacity (RCU) | write calls |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range f.Runs {
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d | %d | %.2f | %.1f | %d |\n",
			r.Expired, r.Open, r.Result.Settled, r.Reads, r.Queries, r.IndexItems, r.GetItems, r.ItemsRead,
			float64(r.ItemsRead)/float64(r.Expired), r.ReadCapacity, r.Writes)
	}
	b.WriteString("\nEach run queries every partition of the Expiring index for `expAt <= now` (the rooms' expiry shards, " +
		"and the shards of held referral rewards, which the closer releases too: the Query calls), which examines " +
		"only due entries, because settling removes a room from the sparse index and open rooms not yet due sort " +
		"after now; then it reads each due room once (a strongly consistent GetItem) and settles it with one write.\n")
	if p := f.problems(); len(p) > 0 {
		b.WriteString("\n**Goal missed:**\n\n")
		for _, s := range p {
			fmt.Fprintf(&b, "- %s.\n", s)
		}
	} else {
		b.WriteString("\nGoal met: the items read follow the expired rooms and do not change with the open ones.\n")
	}
	return b.String()
}

// Summary is the section's verdict in a sentence.
func (f Figures) Summary() string {
	var parts []string
	for _, r := range f.Runs {
		parts = append(parts, fmt.Sprintf("%d among %d: %d", r.Expired, r.Open, r.ItemsRead))
	}
	s := "items read to settle N expired rooms among M open (N among M: items): " + strings.Join(parts, "; ")
	if f.GoalsMet() {
		return s + "; they follow N and stay flat in M"
	}
	return s + "; " + strings.Join(f.problems(), "; ")
}
