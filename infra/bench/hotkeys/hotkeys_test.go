package hotkeys

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/shared/groupbuy"
)

func TestMain(m *testing.M) { apistack.Main(m) }

func TestFamilies(t *testing.T) {
	tests := []struct {
		pk      string
		pattern string
		shared  bool
		drawn   bool
	}{
		{pk: "T#c1", pattern: "T#<tenant>", shared: true},
		{pk: "T#c1#U#alice", pattern: "T#<tenant>#U#<user>"},
		{pk: "GROUP#ABC", pattern: "GROUP#<room>"},
		{pk: "SEAT#c1#duo#7", pattern: "SEAT#<tenant>#<deal>#<n>", shared: true, drawn: true},
		{pk: "STOCK#c1#flash#0", pattern: "STOCK#<tenant>#<template>#<n>", shared: true, drawn: true},
		{pk: "EVT#1", pattern: "EVT#<event>"},
		{pk: "NEWTHING#c1", pattern: "NEWTHING#…", shared: true},
	}
	for _, tt := range tests {
		f := familyOf(tt.pk, "c1")
		require.Equal(t, tt.pattern, f.Pattern, tt.pk)
		require.Equal(t, tt.shared, f.Shared, tt.pk)
		require.Equal(t, tt.drawn, f.Drawn, tt.pk)
	}
}

func TestCapacity(t *testing.T) {
	require.Equal(t, 2.0, wcu(100, true))
	require.Equal(t, 1.0, wcu(1024, false))
	require.Equal(t, 4.0, wcu(1025, true))
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "GROUP#ABC"}, // 2 + 9
		"n":  &types.AttributeValueMemberN{Value: "1234"},      // 1 + 3
		"ok": &types.AttributeValueMemberBOOL{Value: true},     // 2 + 1
		"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{ // 4 + 3 + (1+1)
			&types.AttributeValueMemberS{Value: "x"},
		}},
	}
	require.Equal(t, 11+4+3+9, itemSize(item))
}

// Playing a trace: shared keys take their share times the rate, others
// their writes in the trace, drawn shard keys their simulated counts at the
// trace's capacity per write.
func TestPlay(t *testing.T) {
	tx := func(pk string) apistack.Write {
		return apistack.Write{PK: pk, SK: "_", Transactional: true, OK: true,
			Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}}
	}
	tr := trace{
		requests: []apistack.Write{
			tx("STATS#bench-clinic#0"), tx("STATS#bench-clinic#1"),
			tx("GROUP#R1"), tx("GROUP#R1"), tx("SEAT#bench-clinic#duo#3"), tx("EVT#1"),
			tx("GROUP#R2"), tx("GROUP#R2"), tx("SEAT#bench-clinic#duo#5"), tx("EVT#2"),
		},
		hooks: []apistack.Write{tx("T#bench-clinic"), tx("T#bench-clinic"), tx("DONE#1"), tx("DONE#2")},
	}
	sp := play("joins", tr, 2, 0, 1000, nil, map[string]int{"SEAT#bench-clinic#duo#0": 600, "SEAT#bench-clinic#duo#1": 400})
	require.Equal(t, Key{PK: "T#bench-clinic", Writes: 1000, WCU: 2000}, sp.Busiest, "2 writes per 2 ops, times 1000/s, 2 WCU each")
	require.False(t, sp.GoalMet())

	byPattern := map[string]Family{}
	for _, f := range sp.Families {
		byPattern[f.Pattern] = f
	}
	require.Equal(t, Key{PK: "GROUP#R1", Writes: 2, WCU: 4}, byPattern["GROUP#<room>"].Busiest, "a room's writes, once")
	require.Equal(t, 2, byPattern["GROUP#<room>"].Keys)
	require.Equal(t, Key{PK: "SEAT#bench-clinic#duo#0", Writes: 600, WCU: 1200}, byPattern["SEAT#<tenant>#<deal>#<n>"].Busiest)
	require.Equal(t, 2, byPattern["SEAT#<tenant>#<deal>#<n>"].Keys, "the simulated shards, not the trace's")
	require.InDelta(t, 1.0, byPattern["SEAT#<tenant>#<deal>#<n>"].PerOp, 1e-9)
	require.Equal(t, "T#<tenant>", sp.Families[0].Pattern, "busiest first")
	stats := byPattern["STATS#<tenant>#<n>"]
	require.Equal(t, 2, stats.Keys)
	require.InDelta(t, 500, stats.Busiest.Writes, 60, "2 writes in a trace of 2 ops, at 1000 ops/s, spread over 2 keys")
	require.GreaterOrEqual(t, stats.Busiest.Writes, 500.0, "the busier of the two")

	f := Figures{Rate: 1000, BatchSize: 50, Deal: sp, Template: play("claims", trace{requests: []apistack.Write{tx("COUPON#A")}}, 1, 0, 1000, nil, nil)}
	md := f.Markdown()
	require.Contains(t, md, "Busiest key: `T#bench-clinic`, **2,000 WCU/s** (1,000 item writes/s); goal under 1,000 WCU/s: **no**.")
	require.Contains(t, md, "| `GROUP#<room>` | a room and its member items")
	require.Contains(t, md, "**Goals missed:**\n\n- joins: `T#bench-clinic` takes 2,000 WCU/s")
	require.Contains(t, md, "- joins: `SEAT#bench-clinic#duo#0` takes 1,200 WCU/s (600 item writes/s), goal under 1,000. At this rate the shards take 1,000 writes a second")
	require.NotContains(t, md, "- claims:")
}

func TestThousands(t *testing.T) {
	require.Equal(t, "20,000", thousands(20000))
	require.Equal(t, "999", thousands(999.4))
	require.Equal(t, "1,234,568", thousands(1234567.8))
	require.Equal(t, "-1,000", thousands(-1000))
}

// Small traces against DynamoDB Local: both spikes record requests and
// hooks' writes, and the shard counts cover the whole simulated second.
func TestMeasure(t *testing.T) {
	f, err := Measure(context.Background(), apistack.TestDB(t), Options{Rooms: 8, Claims: 16, Rate: 2000})
	require.NoError(t, err)
	require.Equal(t, 500, f.BatchSize, "from template.yaml")
	for _, sp := range []Spike{f.Deal, f.Template} {
		require.Positive(t, sp.ItemWrites, sp.Name)
		require.Positive(t, sp.HookWrites, sp.Name)
		require.NotEmpty(t, sp.Busiest.PK, sp.Name)
	}
	shards := func(sp Spike, pattern string) Family {
		for _, f := range sp.Families {
			if f.Pattern == pattern {
				return f
			}
		}
		t.Fatalf("%s: no %s keys", sp.Name, pattern)
		return Family{}
	}
	seats := shards(f.Deal, "SEAT#<tenant>#<deal>#<n>")
	require.InDelta(t, 2, seats.PerOp, 1e-9, "a seat for the open and one for the join")
	require.Equal(t, groupbuy.MaxSeatShards, seats.Keys)
	stock := shards(f.Template, "STOCK#<tenant>#<template>#<n>")
	require.InDelta(t, 1, stock.PerOp, 1e-9)
}
