package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/idempotency"
	"github.com/laoyou/laoyou/shared/referral"
)

// Opens of share links (the funnel's clicks).
//
// Items:
//
//	OPEN#<id> / _     one opened link: the code as given, when; kept for the click retention
//
// An open is written with one PutItem and no read, so the public route
// cannot tell a known code from an unknown one and a viral code makes no
// hot key (a fresh key per open). The hooks function resolves the codes of
// a stream batch with one read and turns opens of known codes into
// referral.clicked events of their tenant; an unknown code's open counts
// nowhere and expires.
//
// An open with an Idempotency-Key is its key's record: its id is the key's
// scope and its put is conditional on the id being new, so a retry is the
// same put, refused, and still one PutItem. The route is public, so the
// scope is the client's key with the caller's address (httpapi): there is
// no user to hold a key, and a key stays one client's. It is not the
// code: the payload hash holds the path, so the key sent again for
// another code is IDEMPOTENCY_KEY_REUSED, as on any route.

const kindOpen = "open"

func openPK(id string) string { return "OPEN#" + id }

type openItem struct {
	key
	Kind     string    `dynamodbav:"kind"`
	Code     string    `dynamodbav:"code"`
	OpenedAt time.Time `dynamodbav:"openedAt"`
	TTL      int64     `dynamodbav:"ttl"`
	// A keyed open's record of its request.
	Token          string `dynamodbav:"token,omitempty"`
	PayloadHash    string `dynamodbav:"payloadHash,omitempty"`
	ResponseStatus int    `dynamodbav:"responseStatus,omitempty"`
}

// RecordOpen writes one opened link of code; with the request's prepared
// idempotency record, under the key's scope unless that open is written
// already (then a *idempotency.Replay of it).
func (s ReferralStore) RecordOpen(ctx context.Context, code string, at time.Time) error {
	it := openItem{
		key:  key{PK: openPK(uuid.Must(uuid.NewV7()).String()), SK: skSelf},
		Kind: kindOpen, Code: code, OpenedAt: at.UTC(), TTL: s.ttlAfter(s.retention().Clicks),
	}
	rec, keyed := idempotency.Take(ctx)
	if !keyed {
		put, err := s.put(it)
		if err != nil {
			return err
		}
		return s.putAlone(ctx, put)
	}
	it.PK, it.TTL = openPK(rec.Key), s.keyRecordExpiry().Unix()
	it.Token, it.PayloadHash, it.ResponseStatus = rec.Token, rec.PayloadHash, rec.ResponseStatus
	put, err := s.putIf(it, notExists())
	if err != nil {
		return err
	}
	err = s.putAlone(ctx, put)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return err
	}
	var old openItem
	if err := attributevalue.UnmarshalMap(ccf.Item, &old); err != nil {
		return err
	}
	if old.Token == rec.Token {
		return nil // this very put, sent again by the SDK after a lost reply
	}
	return &idempotency.Replay{Stored: idempotency.Record{
		Key: rec.Key, Token: old.Token, PayloadHash: old.PayloadHash,
		ExpiresAt: time.Unix(old.TTL, 0), ResponseStatus: old.ResponseStatus,
	}}
}

// StreamOpen reads the open a stream record carries; ok is false for every
// record that is not the insertion of an open item.
func StreamOpen(r events.DynamoDBEventRecord) (o referral.Opened, ok bool, err error) {
	if r.EventName != "INSERT" {
		return referral.Opened{}, false, nil
	}
	pk := r.Change.Keys["pk"]
	if pk.DataType() != events.DataTypeString || !strings.HasPrefix(pk.String(), "OPEN#") {
		return referral.Opened{}, false, nil
	}
	image, err := fromStreamImage(r.Change.NewImage)
	if err != nil {
		return referral.Opened{}, false, fmt.Errorf("open %s: %w", pk.String(), err)
	}
	var it openItem
	if err := attributevalue.UnmarshalMap(image, &it); err != nil {
		return referral.Opened{}, false, fmt.Errorf("open %s: %w", pk.String(), err)
	}
	if it.Kind != kindOpen || it.Code == "" {
		return referral.Opened{}, false, fmt.Errorf("open %s: not an open item", pk.String())
	}
	return referral.Opened{ID: strings.TrimPrefix(pk.String(), "OPEN#"), Code: it.Code, OpenedAt: it.OpenedAt}, true, nil
}

// ClickEvents turns opens into referral.clicked events of their codes'
// tenants, reading the codes with one BatchGetItem per hundred; opens of
// codes that do not exist give none.
func (s ReferralStore) ClickEvents(ctx context.Context, opens []referral.Opened) ([]event.Event, error) {
	codes := make([]string, 0, len(opens))
	for _, o := range opens {
		codes = append(codes, o.Code)
	}
	codes = slices.Compact(slices.Sorted(slices.Values(codes)))
	found := map[string]*referral.Code{}
	for chunk := range slices.Chunk(codes, 100) {
		keys := make([]map[string]types.AttributeValue, 0, len(chunk))
		for _, c := range chunk {
			keys = append(keys, key{PK: codePK(c), SK: skSelf}.av())
		}
		items, err := s.batchGet(ctx, keys)
		if err != nil {
			return nil, err
		}
		for _, av := range items {
			var it codeItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, err
			}
			found[it.Code] = it.code()
		}
	}
	var out []event.Event
	for _, o := range opens {
		c := found[o.Code]
		if c == nil {
			continue
		}
		out = append(out, event.Event{
			ID: o.ID, Type: event.ReferralClicked, Tenant: c.Tenant, OccurredAt: o.OpenedAt,
			Data: map[string]any{"code": c.Code, "referrerId": c.UserID},
		})
	}
	return out, nil
}
