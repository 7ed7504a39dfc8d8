package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/idempotency"
)

var _ idempotency.Store = (*IdempotencyStore)(nil)

// IdempotencyStore keeps idempotency records in the table.
type IdempotencyStore struct{ *Store }

type idemItem struct {
	key
	Kind            string `dynamodbav:"kind"`
	Token           string `dynamodbav:"token"`
	PayloadHash     string `dynamodbav:"payloadHash"`
	Status          string `dynamodbav:"status"`
	InProgressUntil int64  `dynamodbav:"inProgressUntil"` // epoch ms
	TTL             int64  `dynamodbav:"ttl"`             // epoch s
	ResponseStatus  int    `dynamodbav:"responseStatus,omitempty"`
	ResponseBody    string `dynamodbav:"responseBody,omitempty"`
}

func toIdemItem(r idempotency.Record) idemItem {
	return idemItem{
		key:             key{PK: idemPK(r.Key), SK: skSelf},
		Kind:            kindIdempotency,
		Token:           r.Token,
		PayloadHash:     r.PayloadHash,
		Status:          string(r.Status),
		InProgressUntil: r.InProgressUntil.UnixMilli(),
		TTL:             r.ExpiresAt.Unix(),
		ResponseStatus:  r.ResponseStatus,
		ResponseBody:    r.ResponseBody,
	}
}

func (i idemItem) record() *idempotency.Record {
	return &idempotency.Record{
		Key:             i.PK[len("IDEM#"):],
		Token:           i.Token,
		PayloadHash:     i.PayloadHash,
		Status:          idempotency.Status(i.Status),
		InProgressUntil: time.UnixMilli(i.InProgressUntil),
		ExpiresAt:       time.Unix(i.TTL, 0),
		ResponseStatus:  i.ResponseStatus,
		ResponseBody:    i.ResponseBody,
	}
}

// Claim puts rec unless a live record holds the key. A record is dead when
// its TTL has passed (TTL deletion lags) or when it is an in-progress claim
// whose holder's deadline has passed.
func (s IdempotencyStore) Claim(ctx context.Context, rec idempotency.Record, now time.Time) (*idempotency.Record, error) {
	av, err := attributevalue.MarshalMap(toIdemItem(rec))
	if err != nil {
		return nil, err
	}
	e := mustBuild(expression.NewBuilder().WithCondition(keyFree(now)))
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.Table),
		Item:                                av,
		ConditionExpression:                 e.Condition(),
		ExpressionAttributeNames:            e.Names(),
		ExpressionAttributeValues:           e.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var old idemItem
		if err := attributevalue.UnmarshalMap(ccf.Item, &old); err != nil {
			return nil, err
		}
		held := old.record()
		if held != nil && held.Token == rec.Token {
			// Our own claim: the put committed, its reply was lost and the
			// SDK sent it again. The key is ours.
			return nil, nil
		}
		return held, nil
	}
	return nil, err
}

// keyFree is the condition of a put that records an idempotency key: no
// live record holds it. A record is dead when its TTL has passed (TTL
// deletion lags) or when it is an in-progress claim whose holder's deadline
// has passed.
func keyFree(now time.Time) expression.ConditionBuilder {
	return notExists().
		Or(expression.Name("ttl").LessThan(expression.Value(now.Unix()))).
		Or(expression.And(
			expression.Name("status").Equal(expression.Value(string(idempotency.InProgress))),
			expression.Name("inProgressUntil").LessThan(expression.Value(now.UnixMilli())),
		))
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

// Complete stores the response, if the claim is still ours.
func (s IdempotencyStore) Complete(ctx context.Context, rec idempotency.Record) error {
	upd := expression.
		Set(expression.Name("status"), expression.Value(string(idempotency.Completed))).
		Set(expression.Name("responseStatus"), expression.Value(rec.ResponseStatus)).
		Set(expression.Name("responseBody"), expression.Value(rec.ResponseBody))
	cond := expression.Name("token").Equal(expression.Value(rec.Token))
	e := mustBuild(expression.NewBuilder().WithUpdate(upd).WithCondition(cond))
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key{PK: idemPK(rec.Key), SK: skSelf}.av(),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	return err
}

// Release deletes the claim, if it is still ours.
func (s IdempotencyStore) Release(ctx context.Context, rec idempotency.Record) error {
	e := mustBuild(expression.NewBuilder().WithCondition(expression.Name("token").Equal(expression.Value(rec.Token))))
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key{PK: idemPK(rec.Key), SK: skSelf}.av(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if isConditionFailed(err) {
		return nil // someone else holds it now; nothing of ours to free
	}
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
