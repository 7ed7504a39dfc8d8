package dynamo

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/hook"
)

var _ hook.StatsStore = (*StatsStore)(nil)

// StatsStore keeps the admin stats' counters, fed from the stream.
//
// Items:
//
//	STATS#<t>#<n> / _     counter shard n (0..statsShards-1), each its own partition:
//	                      "c#<counter>" numbers (c#clicks, c#deal#<dealId>#joins, ...)
//	STATS#<t>#REF / _     the referrer ranking: "q#<referrerId>" qualified friends
//	                      and "n#<referrerId>" their masked name
//
// A stream batch adds a tenant's events to a shard chosen at random, up to
// statsPerTxn in one transaction with an effect item per event
// (FX#<eventId>#builtin:stats#-), so a redelivered event cancels it and is
// dropped, never counted twice. Sharding keeps a spike (thousands of clicks
// or joins a second, arriving in stream batches of up to 500) at a few
// dozen writes a second per key.
// The read is one BatchGetItem of every shard and the ranking: no Query of
// one hot partition. The ranking is one item, written only by batches that
// hold qualifications or reversals (clinic visits, never a spike); at about
// 60 bytes a referrer it holds some 6,000 referrers before DynamoDB's
// 400 KB item limit, beyond which ranking needs items of its own.
type StatsStore struct{ *Store }

const (
	kindStats    = "stats"
	kindRanking  = "statsRanking"
	statsShards  = 8
	statsPerTxn  = 98 // effects, plus the shard and the ranking, within 100 items
	counterAttr  = "c#"
	rankingCount = "q#"
	rankingName  = "n#"
)

func statsShardKey(tenant string, n int) key {
	return key{PK: "STATS#" + tenant + "#" + strconv.Itoa(n), SK: skSelf}
}
func rankingKey(tenant string) key { return key{PK: "STATS#" + tenant + "#REF", SK: skSelf} }

// attrName makes an id safe as an attribute name for the expression
// builder, which reads '.' as a path: ids never hold '~'.
func attrName(prefix, id string) string { return prefix + strings.ReplaceAll(id, ".", "~") }

func idOfAttr(name, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	return strings.ReplaceAll(rest, "~", "."), ok
}

// AddStats adds the events' contributions, up to statsPerTxn per
// transaction. Events already counted cancel it; they are dropped and the
// rest written again.
func (s StatsStore) AddStats(ctx context.Context, tenant string, counted []hook.Counted, names map[string]string) error {
	pending := counted
	for len(pending) > 0 {
		chunk := pending[:min(len(pending), statsPerTxn)]
		t, err := s.statsParts(tenant, chunk, names)
		if err != nil {
			return err
		}
		cancelled, err := s.transact(ctx, t)
		if err != nil {
			return err
		}
		rest := pending[len(chunk):]
		if cancelled == nil {
			pending = rest
			continue
		}
		var again []hook.Counted
		for _, c := range chunk {
			if !cancelled.by(countedPart(c)).ConditionFailed() {
				again = append(again, c)
			}
		}
		if len(again) == len(chunk) {
			return errors.New("dynamo: stats cancelled without a failed condition")
		}
		pending = append(again, rest...)
	}
	return nil
}

// countedPart names the effect item that counts c once.
func countedPart(c hook.Counted) string { return "effect:" + c.EventID }

func (s StatsStore) statsParts(tenant string, chunk []hook.Counted, names map[string]string) (tx, error) {
	t := tx{parts: make([]part, 0, len(chunk)+2)}
	totals := map[string]int64{}
	ranking := map[string]int64{}
	for _, c := range chunk {
		fx, err := s.effectPut(tenant, hook.Effect(c.EventID, hook.StatsRule, "-"))
		if err != nil {
			return tx{}, err
		}
		t.add(countedPart(c), fx)
		for name, n := range c.Counters {
			totals[name] += n
		}
		if c.ReferrerDelta != 0 {
			ranking[c.ReferrerID] += c.ReferrerDelta
		}
	}
	upd := expression.Set(expression.Name("kind"), expression.Value(kindStats)).
		Set(expression.Name("tenant"), expression.Value(tenant))
	for _, name := range slices.Sorted(maps.Keys(totals)) {
		if n := totals[name]; n != 0 {
			upd = upd.Add(expression.Name(attrName(counterAttr, name)), expression.Value(n))
		}
	}
	t.add("stats", s.update(statsShardKey(tenant, rand.IntN(statsShards)), upd, nil))
	if len(ranking) > 0 {
		upd := expression.Set(expression.Name("kind"), expression.Value(kindRanking)).
			Set(expression.Name("tenant"), expression.Value(tenant))
		for _, id := range slices.Sorted(maps.Keys(ranking)) {
			upd = upd.Add(expression.Name(attrName(rankingCount, id)), expression.Value(ranking[id]))
			if name := names[id]; name != "" {
				upd = upd.Set(expression.Name(attrName(rankingName, id)), expression.Value(name))
			}
		}
		t.add("ranking", s.update(rankingKey(tenant), upd, nil))
	}
	return t, nil
}

// ReferrerNames reads the referees' bindings with one BatchGetItem (per
// hundred) for their referrers' masked names.
func (s StatsStore) ReferrerNames(ctx context.Context, tenant string, refereeIDs []string) (map[string]string, error) {
	ids := slices.Compact(slices.Sorted(slices.Values(refereeIDs)))
	out := map[string]string{}
	for chunk := range slices.Chunk(ids, 100) {
		keys := make([]map[string]types.AttributeValue, 0, len(chunk))
		for _, id := range chunk {
			keys = append(keys, bindingKey(tenant, id).av())
		}
		items, err := s.batchGet(ctx, keys)
		if err != nil {
			return nil, err
		}
		for _, av := range items {
			var it bindingItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, err
			}
			out[it.ReferrerID] = it.ReferrerName
		}
	}
	return out, nil
}

// StatsOf reads every counter shard and the ranking with one BatchGetItem.
func (s StatsStore) StatsOf(ctx context.Context, tenant string) (hook.Counters, error) {
	keys := make([]map[string]types.AttributeValue, 0, statsShards+1)
	for n := range statsShards {
		keys = append(keys, statsShardKey(tenant, n).av())
	}
	keys = append(keys, rankingKey(tenant).av())
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return hook.Counters{}, err
	}
	c := hook.Counters{Totals: map[string]int64{}, Referrers: map[string]int64{}, Names: map[string]string{}}
	for _, item := range items {
		for name, av := range item {
			switch {
			case strings.HasPrefix(name, counterAttr):
				var n int64
				if err := attributevalue.Unmarshal(av, &n); err != nil {
					return hook.Counters{}, err
				}
				counter, _ := idOfAttr(name, counterAttr)
				c.Totals[counter] += n
			case strings.HasPrefix(name, rankingCount):
				var n int64
				if err := attributevalue.Unmarshal(av, &n); err != nil {
					return hook.Counters{}, err
				}
				id, _ := idOfAttr(name, rankingCount)
				c.Referrers[id] = n
			case strings.HasPrefix(name, rankingName):
				var v string
				if err := attributevalue.Unmarshal(av, &v); err != nil {
					return hook.Counters{}, err
				}
				id, _ := idOfAttr(name, rankingName)
				c.Names[id] = v
			}
		}
	}
	return c, nil
}
