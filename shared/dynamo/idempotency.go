package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/laoyou/laoyou/shared/idempotency"
)

// idemItem is an Idempotency-Key's record: the answer a repeat replays.
type idemItem struct {
	key
	Kind           string `dynamodbav:"kind"`
	Token          string `dynamodbav:"token"`
	PayloadHash    string `dynamodbav:"payloadHash"`
	TTL            int64  `dynamodbav:"ttl"` // epoch s
	ResponseStatus int    `dynamodbav:"responseStatus,omitempty"`
	ResponseBody   string `dynamodbav:"responseBody,omitempty"`
}

func toIdemItem(r idempotency.Record) idemItem {
	return idemItem{
		key:            key{PK: idemPK(r.Key), SK: skSelf},
		Kind:           kindIdempotency,
		Token:          r.Token,
		PayloadHash:    r.PayloadHash,
		TTL:            r.ExpiresAt.Unix(),
		ResponseStatus: r.ResponseStatus,
		ResponseBody:   r.ResponseBody,
	}
}

func (i idemItem) record() *idempotency.Record {
	return &idempotency.Record{
		Key:            i.PK[len("IDEM#"):],
		Token:          i.Token,
		PayloadHash:    i.PayloadHash,
		ExpiresAt:      time.Unix(i.TTL, 0),
		ResponseStatus: i.ResponseStatus,
		ResponseBody:   i.ResponseBody,
	}
}

// keyFree is the condition of a put that records an idempotency key: no
// live record holds it. A record is dead when its TTL has passed (TTL
// deletion lags).
func keyFree(now time.Time) expression.ConditionBuilder {
	return notExists().Or(expression.Name("ttl").LessThan(expression.Value(now.Unix())))
}

// keyRecordExpiry is when a key recorded now is gone for good: the
// configured Idempotency-Key retention (docs/API.md: at least 24 hours).
func (s *Store) keyRecordExpiry() time.Time {
	return time.Unix(s.ttlAfter(s.retention().IdempotencyKeys), 0)
}

// withKeyRecord adds the request's prepared idempotency record, if any, to
// a write's transaction as keyPart: every user-facing write goes through
// transact or writeAlone, so this is the one place a key joins its route's
// write.
func (s *Store) withKeyRecord(ctx context.Context, t tx) (tx, *idempotency.Record, error) {
	rec, ok := idempotency.Take(ctx)
	if !ok {
		return t, nil, nil
	}
	rec.ExpiresAt = s.keyRecordExpiry()
	put, err := s.putIf(toIdemItem(rec), keyFree(s.Now()))
	if err != nil {
		return tx{}, nil, err
	}
	return t.with(keyPart, put), &rec, nil
}

// keyRecordFailed reads the cancellation of a write whose key record's
// condition failed (its keyPart): nil when the record held is this very
// write's (it committed, its reply was lost and the SDK sent it again: the
// write is done), else a *idempotency.Replay of the record held. A record
// of this request holding another answer was written by an earlier attempt
// of the same request (e.g. a room under another id, whose reply was lost
// before the service tried again): that answer is what was done.
func keyRecordFailed(own *idempotency.Record, held failed) error {
	var old idemItem
	if err := attributevalue.UnmarshalMap(held.Item, &old); err != nil {
		return err
	}
	if old.Token == own.Token && old.ResponseStatus == own.ResponseStatus && old.ResponseBody == own.ResponseBody {
		return nil
	}
	return &idempotency.Replay{Stored: *old.record()}
}

// RecordAnswer writes the request's prepared idempotency record alone (see
// idempotency.Again).
func (s *Store) RecordAnswer(ctx context.Context) error {
	t, own, err := s.withKeyRecord(ctx, tx{})
	if err != nil || own == nil {
		return err
	}
	_, err = s.transactItems(ctx, t, own)
	return err
}

// StoredAnswer reads the record of the request's key (see
// idempotency.Spent): a *idempotency.Replay of it, nil if none is stored
// or it has lapsed.
func (s *Store) StoredAnswer(ctx context.Context) error {
	p := idempotency.PendingOf(ctx)
	if p == nil {
		return nil
	}
	var it idemItem
	found, err := s.getItemConsistent(ctx, key{PK: idemPK(p.Key()), SK: skSelf}, &it)
	if err != nil || !found || it.TTL < s.Now().Unix() {
		return err
	}
	return &idempotency.Replay{Stored: *it.record()}
}
