package hotkeys

import (
	"fmt"
	"math"
	"strings"
)

// Markdown is the report's section body.
func (f Figures) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Partition keys under a spike of %s joins per second on one deal (rooms of two, the demo's 闺蜜卡, "+
		"so each join comes with the open of its room), and of %s claims per second on one coupon template. The keys are "+
		"a recorded trace: real requests through the handlers against DynamoDB Local, every item written recorded with "+
		"its partition key; then the events they wrote handed to the hooks function as its stream source would (new "+
		"event items only, %d a batch, as template.yaml says), and its writes recorded too. The trace, a fraction of a "+
		"second at that rate, is played as many times as a second holds: keys every request shares (seat and stock "+
		"shards, the tenant's partition) are the same in every copy, so they take their share of the trace's writes "+
		"times the rate; keys of one room, person, event or coupon are new in every copy, so they take their writes in "+
		"the trace. Which seat or stock shard a request takes is the services' random choice, too thinly sampled by "+
		"a trace of hundreds for the busiest of 64 shards: those one-second counts come from the real services "+
		"(`groupbuy.Service` Open and Join, `coupon.Service` Claim) choosing for a whole second's requests over "+
		"stores that record the shard instead of writing.\n\n",
		thousands(f.Rate), thousands(f.Rate), f.BatchSize)
	b.WriteString("Figures are item writes per second and write capacity units (WCU) per second: an item write takes 1 WCU " +
		"per started KB and twice that inside a transaction; sizes are the items' as written (puts) or as they ended " +
		"(updates), and refused writes count, since they cost capacity too. The goal is judged on WCU: DynamoDB gives " +
		"one partition key 1,000 WCU a second.\n\n")
	for _, sp := range []Spike{f.Deal, f.Template} {
		b.WriteString(sp.markdown(f.Rate))
	}
	var missed []string
	for _, sp := range []Spike{f.Deal, f.Template} {
		for _, fam := range sp.Families {
			if fam.Busiest.WCU >= MaxKeyWCU {
				missed = append(missed, fmt.Sprintf("- %s: `%s` takes %s WCU/s (%s item writes/s), goal under %s. %s",
					sp.Name, fam.Busiest.PK, thousands(fam.Busiest.WCU), thousands(fam.Busiest.Writes),
					thousands(MaxKeyWCU), fixFor(fam, f.Rate)))
			}
		}
	}
	if len(missed) > 0 {
		b.WriteString("**Goals missed:**\n\n" + strings.Join(missed, "\n") + "\n")
	}
	return b.String()
}

func (sp Spike) markdown(rate float64) string {
	var b strings.Builder
	met := "yes"
	if !sp.GoalMet() {
		met = "**no**"
	}
	fmt.Fprintf(&b, "### %s %s\n\n", thousands(rate), sp.Name)
	trace := fmt.Sprintf("%d claims", sp.Ops)
	if sp.Opens > 0 {
		trace = fmt.Sprintf("%d rooms opened and %d joins", sp.Opens, sp.Ops)
	}
	fmt.Fprintf(&b, "Trace: %s writing %s items; the hooks, handed %s events in %d batches, wrote %s more. "+
		"Busiest key: `%s`, **%s WCU/s** (%s item writes/s); goal under %s WCU/s: %s.\n\n",
		trace, thousands(float64(sp.ItemWrites)), thousands(float64(sp.Events)), sp.Batches, thousands(float64(sp.HookWrites)),
		sp.Busiest.PK, thousands(sp.Busiest.WCU), thousands(sp.Busiest.Writes), thousands(MaxKeyWCU), met)
	b.WriteString("| key | what it is | keys | item writes per op in the trace | busiest key | its writes/s | its WCU/s | under 1,000 WCU/s |\n")
	b.WriteString("|---|---|---:|---:|---|---:|---:|---|\n")
	for _, f := range sp.Families {
		ok := "yes"
		if f.Busiest.WCU >= MaxKeyWCU {
			ok = "**no**"
		}
		kind := "one per room, person or event"
		switch {
		case f.Drawn:
			kind = "shared; one-second counts drawn by the service"
		case f.Spread:
			kind = "shared; one-second counts spread at random, as the store spreads them"
		case f.Shared:
			kind = "shared by every request"
		}
		fmt.Fprintf(&b, "| `%s` | %s (%s) | %d | %.2f | `%s` | %s | %s | %s |\n",
			f.Pattern, f.About, kind, f.Keys, f.PerOp, f.Busiest.PK, thousands(f.Busiest.Writes), thousands(f.Busiest.WCU), ok)
	}
	b.WriteString("\n")
	return b.String()
}

// fixFor says what would cool a family's keys.
func fixFor(f Family, rate float64) string {
	switch f.Pattern {
	case "T#<tenant>":
		return "The hooks function rolls `remaining` up into the deal and template items once per stream batch at " +
			"most: raise the stream's BatchSize (template.yaml) so that a spike comes in fewer batches, or roll up " +
			"less often than once per batch."
	case "SEAT#<tenant>#<deal>#<n>", "STOCK#<tenant>#<template>#<n>":
		perSecond := f.PerOp * rate
		wcu := f.Busiest.WCU / math.Max(f.Busiest.Writes, 1)
		shards := math.Ceil(perSecond * wcu / (0.8 * MaxKeyWCU))
		why := ""
		if f.Pattern == "SEAT#<tenant>#<deal>#<n>" {
			why = ": a join of a room of two comes with its room's open, which takes a seat too"
		}
		return fmt.Sprintf("At this rate the shards take %s writes a second between them (%.2f per request%s), "+
			"%s WCU each on average over %d shards. About %.0f shards would keep each under 80%% of the limit (the "+
			"busiest runs above the mean): raise the shard ceiling (MaxSeatShards, MaxShards) for stock large "+
			"enough to need it.",
			thousands(perSecond), f.PerOp, why, thousands(perSecond*wcu/float64(f.Keys)), f.Keys, shards)
	case "STATS#<tenant>#<n>":
		return "Add stats shards (statsShards in shared/dynamo/stats.go), or make each stream batch's counts fewer, larger writes."
	}
	return "Spread its writes over more keys."
}

// thousands formats a rate with a thousands separator and no decimals.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Summary is the section's verdict in a sentence.
func (f Figures) Summary() string {
	return fmt.Sprintf("busiest key at %s requests a second: %s `%s` %s WCU/s, %s `%s` %s WCU/s (goal under %s)",
		thousands(f.Rate), f.Deal.Name, f.Deal.Busiest.PK, thousands(f.Deal.Busiest.WCU),
		f.Template.Name, f.Template.Busiest.PK, thousands(f.Template.Busiest.WCU), thousands(MaxKeyWCU))
}
