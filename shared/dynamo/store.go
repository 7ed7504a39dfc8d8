package dynamo

import (
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/idempotency"
)

// Store keeps all of Laoyou's state in one table. Its methods are split by
// domain across this package's files.
type Store struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
	// Retention sets the TTL of events, opens and dead letters; zero
	// fields keep their defaults.
	Retention config.Retention
}

// NewStore returns a store over table.
func NewStore(db *dynamodb.Client, table string) *Store {
	return &Store{DB: db, Table: table, Now: time.Now}
}

// Item kinds, stored in every item's "kind" so stream consumers and
// operators can tell items apart without parsing keys.
const (
	kindCode        = "referralCode"
	kindBinding     = "binding"
	kindFriend      = "friend"
	kindEvent       = "event"
	kindIdempotency = "idempotency"
	kindSettings    = "settings"
)

// Keys. Everything a tenant owns sits under "T#<tenant>"; what the system
// makes unique across tenants (codes, rooms, coupons, events) has its own
// partition and carries its tenant as an attribute.
func userPK(tenant, user string) string { return "T#" + tenant + "#U#" + user }
func tenantPK(tenant string) string     { return "T#" + tenant }
func codePK(code string) string         { return "CODE#" + code }
func eventPK(id string) string          { return "EVT#" + id }
func idemPK(key string) string          { return "IDEM#" + key }

const (
	skCode     = "REF#CODE"
	skFriend   = "REF#F#"
	skReferral = "REF#"
	skBoundTo  = "BOUND_TO"
	skPatient  = "PATIENT"
	skSettings = "SETTINGS"
	skSelf     = "_" // the item of a partition that holds one item
)

// key is an item's primary key.
type key struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
}

func (k key) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: k.PK},
		"sk": &types.AttributeValueMemberS{Value: k.SK},
	}
}

// notExists is the condition of a put that must create its item.
func notExists() expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name("pk"))
}

func mustBuild(b expression.Builder) expression.Expression {
	e, err := b.Build()
	if err != nil {
		panic("dynamo: bad expression: " + err.Error()) // a programming error, caught by any test
	}
	return e
}

// putIf is a transaction Put of item under cond, returning the old item if
// cond fails.
func (s *Store) putIf(item any, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	e := mustBuild(expression.NewBuilder().WithCondition(cond))
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                           aws.String(s.Table),
		Item:                                av,
		ConditionExpression:                 e.Condition(),
		ExpressionAttributeNames:            e.Names(),
		ExpressionAttributeValues:           e.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

// put is an unconditional transaction Put.
func (s *Store) put(item any) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: av}}, nil
}

// countUnder is a transaction Update adding one to the counter "n" of the
// item at k, with what upd sets, unless the counter has reached limit: a
// per-user claim limit and a referrer's monthly cap are both this one rule.
func (s *Store) countUnder(k key, limit int, upd expression.UpdateBuilder) types.TransactWriteItem {
	under := expression.AttributeNotExists(expression.Name("n")).
		Or(expression.Name("n").LessThan(expression.Value(limit)))
	return s.update(k, upd.Add(expression.Name("n"), expression.Value(1)), &under)
}

// update is a transaction Update of the item at k, under cond where given,
// returning the old item if cond fails.
func (s *Store) update(k key, upd expression.UpdateBuilder, cond *expression.ConditionBuilder) types.TransactWriteItem {
	b := expression.NewBuilder().WithUpdate(upd)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	e := mustBuild(b)
	u := &types.Update{
		TableName:                 aws.String(s.Table),
		Key:                       k.av(),
		UpdateExpression:          e.Update(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}
	if cond != nil {
		u.ConditionExpression = e.Condition()
		u.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	return types.TransactWriteItem{Update: u}
}

// putAlone writes a transaction Put as a single PutItem, for a write that
// needs no transaction (a fact recorded on its own, a marker), so the item
// and its condition are built in one place either way. A failed condition
// comes back as *types.ConditionalCheckFailedException, with the item as it
// was where the Put asks for it (putIf). With a prepared idempotency record
// it is a two-item transaction (see writeAlone).
func (s *Store) putAlone(ctx context.Context, put types.TransactWriteItem) error {
	if done, err := s.writeAlone(ctx, put); done {
		return err
	}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           put.Put.TableName,
		Item:                                put.Put.Item,
		ConditionExpression:                 put.Put.ConditionExpression,
		ExpressionAttributeNames:            put.Put.ExpressionAttributeNames,
		ExpressionAttributeValues:           put.Put.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: put.Put.ReturnValuesOnConditionCheckFailure,
	})
	return err
}

// updateAlone writes a transaction Update as a single UpdateItem (one write
// unit where a transaction takes two). A failed condition comes back as
// *types.ConditionalCheckFailedException.
func (s *Store) updateAlone(ctx context.Context, upd types.TransactWriteItem) error {
	if done, err := s.writeAlone(ctx, upd); done {
		return err
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 upd.Update.TableName,
		Key:                       upd.Update.Key,
		UpdateExpression:          upd.Update.UpdateExpression,
		ConditionExpression:       upd.Update.ConditionExpression,
		ExpressionAttributeNames:  upd.Update.ExpressionAttributeNames,
		ExpressionAttributeValues: upd.Update.ExpressionAttributeValues,
	})
	return err
}

// writeAlone writes a single Put or Update together with the request's
// prepared idempotency record, if there is one, in one transaction; done is
// false when there is none and the caller writes the item alone. Its failed
// condition comes back as from a single write.
func (s *Store) writeAlone(ctx context.Context, item types.TransactWriteItem) (done bool, err error) {
	if p := idempotency.PendingOf(ctx); p == nil {
		return false, nil
	}
	t, own, err := s.withKeyRecord(ctx, tx{}.with("item", item))
	if err != nil || own == nil {
		return err != nil, err
	}
	cancelled, err := s.transactItems(ctx, t, own)
	if err != nil || cancelled == nil {
		return true, err
	}
	return true, &types.ConditionalCheckFailedException{
		Message: aws.String("The conditional request failed"), Item: cancelled.by("item").Item,
	}
}

// rollUp writes set, a count rolled up from shards read at readAt (unix
// ms), into the item at k with one UpdateItem, unless a later reading is
// stored there ("countedAt") or the item is gone: readings land in any
// order, and the latest wins.
func (s *Store) rollUp(ctx context.Context, k key, set expression.UpdateBuilder, readAt int64) error {
	fresher := expression.AttributeExists(expression.Name("pk")).And(
		expression.AttributeNotExists(expression.Name("countedAt")).
			Or(expression.Name("countedAt").LessThan(expression.Value(readAt))))
	err := s.updateAlone(ctx, s.update(k, set.Set(expression.Name("countedAt"), expression.Value(readAt)), &fresher))
	if isConditionFailed(err) {
		return nil
	}
	return err
}

// isConditionFailed says whether err is a single write's failed condition.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// check is a transaction ConditionCheck on the item at k.
func (s *Store) check(k key, cond expression.ConditionBuilder) types.TransactWriteItem {
	e := mustBuild(expression.NewBuilder().WithCondition(cond))
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                           aws.String(s.Table),
		Key:                                 k.av(),
		ConditionExpression:                 e.Condition(),
		ExpressionAttributeNames:            e.Names(),
		ExpressionAttributeValues:           e.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// tx is one transaction: its items, each added as a named part, so that a
// cancellation is read by what failed rather than by where it stood.
type tx struct{ parts []part }

// part is one transaction item and the name its cancellation reason is
// read by.
type part struct {
	name string
	item types.TransactWriteItem
}

// keyPart names the request's idempotency record in a transaction (see
// withKeyRecord).
const keyPart = "key"

// add appends item as the part name. Parts may share a name (a deal's seat
// shards): they are read together.
func (t *tx) add(name string, item types.TransactWriteItem) {
	t.parts = append(t.parts, part{name: name, item: item})
}

// with is t and one more part, leaving t as it was.
func (t tx) with(name string, item types.TransactWriteItem) tx {
	return tx{parts: append(t.parts[:len(t.parts):len(t.parts)], part{name: name, item: item})}
}

func (t tx) items() []types.TransactWriteItem {
	items := make([]types.TransactWriteItem, len(t.parts))
	for i, p := range t.parts {
		items[i] = p.item
	}
	return items
}

// failed is one cancelled transaction item: its reason code and, where the
// condition failed, the item as it was.
type failed struct {
	Code string
	Item map[string]types.AttributeValue
}

// ConditionFailed reports whether this item's condition failed.
func (f failed) ConditionFailed() bool { return f.Code == "ConditionalCheckFailed" }

// cancellation is why a transaction was cancelled, part by part.
type cancellation struct {
	parts   []part
	reasons []failed
}

// by is the reason of the part called name; of those sharing the name, the
// first whose condition failed. A name the transaction has no part of
// (an optional part left out) reads as a condition that held.
func (c *cancellation) by(name string) failed {
	var first *failed
	for i, p := range c.parts {
		if p.name != name || i >= len(c.reasons) {
			continue
		}
		if c.reasons[i].ConditionFailed() {
			return c.reasons[i]
		}
		if first == nil {
			first = &c.reasons[i]
		}
	}
	if first == nil {
		return failed{}
	}
	return *first
}

// transact runs t as one TransactWriteItems. If a condition failed it
// returns the reasons by part and no error; the caller decides what each
// means. Cancellations by conflicting transactions only are retried a few
// times: the SDK does not retry them, and the transaction had no effect.
//
// The request's prepared idempotency record, if any, is written with t
// (see withKeyRecord); a failure on it comes back, whatever else failed, as
// the error *idempotency.Replay, or as success when the record held is this
// very write's (see keyRecordFailed).
func (s *Store) transact(ctx context.Context, t tx) (*cancellation, error) {
	t, own, err := s.withKeyRecord(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.transactItems(ctx, t, own)
}

// transactItems is transact once the key record, own, is among t's parts
// (as keyPart, if own is not nil).
func (s *Store) transactItems(ctx context.Context, t tx, own *idempotency.Record) (*cancellation, error) {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: t.items()}
	for attempt := 0; ; attempt++ {
		_, err := s.DB.TransactWriteItems(ctx, in)
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return nil, err
		}
		c := &cancellation{parts: t.parts, reasons: make([]failed, len(tce.CancellationReasons))}
		conditionFailed := false
		for i, r := range tce.CancellationReasons {
			c.reasons[i] = failed{Code: aws.ToString(r.Code), Item: r.Item}
			conditionFailed = conditionFailed || c.reasons[i].ConditionFailed()
		}
		switch held := c.by(keyPart); {
		case own != nil && held.ConditionFailed():
			return nil, keyRecordFailed(own, held)
		case conditionFailed:
			return c, nil
		case attempt >= 3:
			return nil, busy(err)
		}
		select {
		case <-ctx.Done():
			return nil, busy(ctx.Err())
		case <-time.After(time.Duration(10<<attempt+rand.IntN(10)) * time.Millisecond):
		}
	}
}

// busy is a transaction given up on with nothing written, after conflicts
// or out of time between tries: the client may retry (503), as after
// throttling or the SDK's own timeouts.
func busy(cause error) error {
	return apierr.E(apierr.Unavailable, "the items are busy, try again", cause)
}

// shardOf spreads ids over n shards by a hash of the id, so that writes
// keyed by shard never make one partition hot.
func shardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// ttlAfter is a TTL attribute value: epoch seconds d from now.
func (s *Store) ttlAfter(d time.Duration) int64 { return s.Now().Add(d).Unix() }

// retention is the store's retention with the defaults filled in.
func (s *Store) retention() config.Retention { return s.Retention.OrDefault() }

// Times compared in conditions and sorted in the Expiring index (rooms'
// expiry, held rewards' release) are strings of one fixed width, whole
// seconds in UTC, so string order is time order.
const secondLayout = "2006-01-02T15:04:05Z"

func second(t time.Time) string { return t.UTC().Truncate(time.Second).Format(secondLayout) }

func parseSecond(s string) time.Time {
	t, _ := time.Parse(secondLayout, s)
	return t
}

// sortableTime has a fixed width, so it sorts as it reads.
const sortableTime = "2006-01-02T15:04:05.000Z"

// fromMillis reads a time stored as unix ms; 0 is none.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// expiringIndex is the sparse GSI of what falls due: expShard (hash),
// expAt (range, a second()). Open rooms sit under EXP#nn, held rewards
// under HOLD#n.
const expiringIndex = "Expiring"
