package hotkeys

import (
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// family is a kind of partition key, as the store lays keys out
// (shared/dynamo): what it is, and whether one key serves many requests
// (a deal's seat shard) or belongs to one room, person or event.
type family struct {
	Pattern string // the key with its variable parts named
	About   string
	// Shared keys are the same for every request of the spike; the others
	// are new for every room, person, event or coupon.
	Shared bool
	// Drawn keys are chosen at random per request by the domain (seat and
	// stock shards): their one-second counts are simulated (see picks.go).
	Drawn bool
	// Spread keys are chosen at random per write by the store: the family's
	// writes in the second are spread over its keys by a uniform draw.
	Spread bool
}

// familyOf classifies a partition key. A key of no known kind counts as
// shared: it may be hot, and the report should say so.
func familyOf(pk, tenant string) family {
	t := "T#" + tenant
	switch {
	case pk == t:
		return family{Pattern: "T#<tenant>", Shared: true,
			About: "the tenant's partition: its deals and templates, whose `remaining` the hooks roll up from the shards (one write per deal or template and stream batch at most, none when a later reading is stored), and its settings and rules"}
	case strings.HasPrefix(pk, t+"#U#"):
		return family{Pattern: "T#<tenant>#U#<user>", About: "one patient's items: per-deal and per-template use, referral binding"}
	case strings.HasPrefix(pk, "GROUP#"):
		return family{Pattern: "GROUP#<room>", About: "a room and its member items: at most 2 × groupSize item writes in its life"}
	case strings.HasPrefix(pk, "SEAT#"):
		return family{Pattern: "SEAT#<tenant>#<deal>#<n>", Shared: true, Drawn: true, About: "a seat stock shard of the deal"}
	case strings.HasPrefix(pk, "STOCK#"):
		return family{Pattern: "STOCK#<tenant>#<template>#<n>", Shared: true, Drawn: true, About: "a stock shard of the coupon template"}
	case pk == "STATS#"+tenant+"#REF":
		return family{Pattern: "STATS#<tenant>#REF", Shared: true, About: "the tenant's referrer ranking, written by qualifications"}
	case strings.HasPrefix(pk, "STATS#"+tenant+"#"):
		return family{Pattern: "STATS#<tenant>#<n>", Shared: true, Spread: true,
			About: "a shard of the tenant's stats counters: each stream batch adds to one chosen at random"}
	case strings.HasPrefix(pk, "EVT#"):
		return family{Pattern: "EVT#<event>", About: "an event item (the outbox)"}
	case strings.HasPrefix(pk, "DONE#"):
		return family{Pattern: "DONE#<event>", About: "the marker that an event was counted"}
	case strings.HasPrefix(pk, "COUPON#"):
		return family{Pattern: "COUPON#<code>", About: "a coupon"}
	case strings.HasPrefix(pk, "FX#"):
		return family{Pattern: "FX#<effect>", About: "the marker that a hook's effect happened"}
	case strings.HasPrefix(pk, "IDEM#"):
		return family{Pattern: "IDEM#<key>", About: "an idempotency record"}
	case strings.HasPrefix(pk, "CODE#"):
		return family{Pattern: "CODE#<code>", About: "a referral code"}
	}
	prefix, _, _ := strings.Cut(pk, "#")
	return family{Pattern: prefix + "#…", Shared: true, About: "a key of a kind this measurement does not know: counted as shared"}
}

// wcu is the write capacity one write of an item of size bytes takes:
// 1 per started KB, twice that inside a transaction.
func wcu(bytes int, transactional bool) float64 {
	units := math.Max(1, math.Ceil(float64(bytes)/1024))
	if transactional {
		units *= 2
	}
	return units
}

// itemSize estimates an item's size as DynamoDB counts it: the lengths of
// attribute names and values (numbers about a byte per two digits, lists
// and maps 3 bytes plus a byte per element).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += len(s)/2 + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}
