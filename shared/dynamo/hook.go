package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
)

var (
	_ hook.Store        = (*HookStore)(nil)
	_ hook.RuleStore    = (*HookStore)(nil)
	_ hook.EffectClaims = (*HookStore)(nil)
)

// HookStore keeps hook rules, the effects they had and dead letters.
//
// Items:
//
//	T#<t> / HOOK#<ruleId>                   a rule
//	FX#<eventId>#<ruleId>#<recipient> / _    an effect that happened or was dead-lettered, put
//	                                         with attribute_not_exists in the effect's own write;
//	                                         a subscribe message's is claimed before it is sent
//	                                         (state "claimed", then "sent" or why it was skipped)
//	T#<t> / DLQ#<at>#<eventId>#<ruleId>      a dead letter
type HookStore struct{ *Store }

const (
	kindHookRule   = "hookRule"
	kindEffect     = "effect"
	kindDeadLetter = "deadLetter"

	skHookRule   = "HOOK#"
	skDeadLetter = "DLQ#"

	// effectKeep outlives any redelivery: the stream keeps records 24
	// hours and the event source gives up on them after a day.
	effectKeep = 30 * 24 * time.Hour
	// deadLettersLimit bounds the listing to one page of the newest.
	deadLettersLimit = 100
)

func effectKey(effect string) key { return key{PK: "FX#" + effect, SK: skSelf} }

type effectItem struct {
	key
	Kind       string `dynamodbav:"kind"`
	Tenant     string `dynamodbav:"tenant"`
	TTL        int64  `dynamodbav:"ttl"`
	CouponCode string `dynamodbav:"couponCode,omitempty"` // the coupon the effect issued
	State      string `dynamodbav:"state,omitempty"`      // a claimed effect's: claimed, sent, or a skip
}

// effectClaimed is the state of an effect claimed and not yet settled.
const effectClaimed = "claimed"

// effectPut is the transaction item that records an effect, once: it fails
// its condition if the effect already happened.
func (s *Store) effectPut(tenant, effect string) (types.TransactWriteItem, error) {
	return s.effectOf(tenant, effect, "")
}

// effectOf is effectPut recording the coupon the effect issued; a failed
// condition returns it.
func (s *Store) effectOf(tenant, effect, couponCode string) (types.TransactWriteItem, error) {
	return s.putIf(effectItem{key: effectKey(effect), Kind: kindEffect, Tenant: tenant, TTL: s.ttlAfter(effectKeep), CouponCode: couponCode}, notExists())
}

type ruleItem struct {
	key
	Kind        string           `dynamodbav:"kind"`
	Tenant      string           `dynamodbav:"tenant"`
	RuleID      string           `dynamodbav:"ruleId"`
	Event       string           `dynamodbav:"event"`
	IssueCoupon *issueCouponAttr `dynamodbav:"issueCoupon,omitempty"`
	Webhook     *webhookAttr     `dynamodbav:"webhook,omitempty"`
	Subscribe   *subscribeAttr   `dynamodbav:"subscribeMessage,omitempty"`
	To          string           `dynamodbav:"to,omitempty"`
	UpdatedAt   time.Time        `dynamodbav:"updatedAt"`
}

type subscribeAttr struct {
	TemplateID string            `dynamodbav:"templateId"`
	Page       string            `dynamodbav:"page,omitempty"`
	Data       map[string]string `dynamodbav:"data"`
}

type issueCouponAttr struct {
	TemplateID string `dynamodbav:"templateId"`
	To         string `dynamodbav:"to"`
}

// webhookAttr holds the secret as is: it signs every delivery. The table is
// encrypted at rest, and no route shows it back.
type webhookAttr struct {
	URL    string `dynamodbav:"url"`
	Secret string `dynamodbav:"secret"`
}

func newRuleItem(r hook.Rule) ruleItem {
	it := ruleItem{
		key:  key{PK: tenantPK(r.Tenant), SK: skHookRule + r.ID},
		Kind: kindHookRule, Tenant: r.Tenant, RuleID: r.ID, Event: string(r.Event), UpdatedAt: r.UpdatedAt,
	}
	if ic := r.IssueCoupon; ic != nil {
		it.IssueCoupon = &issueCouponAttr{TemplateID: ic.TemplateID, To: string(ic.To)}
	}
	if w := r.Webhook; w != nil {
		it.Webhook = &webhookAttr{URL: w.URL, Secret: w.Secret}
	}
	if sm := r.SubscribeMessage; sm != nil {
		it.Subscribe = &subscribeAttr{TemplateID: sm.TemplateID, Page: sm.Page, Data: sm.Data}
		it.To = string(r.To)
	}
	return it
}

func (i ruleItem) rule() hook.Rule {
	r := hook.Rule{Tenant: i.Tenant, ID: i.RuleID, Event: event.Type(i.Event), UpdatedAt: i.UpdatedAt}
	if ic := i.IssueCoupon; ic != nil {
		r.IssueCoupon = &hook.IssueCoupon{TemplateID: ic.TemplateID, To: hook.Recipient(ic.To)}
	}
	if w := i.Webhook; w != nil {
		r.Webhook = &hook.Webhook{URL: w.URL, Secret: w.Secret}
	}
	if sm := i.Subscribe; sm != nil {
		r.SubscribeMessage = &hook.SubscribeMessage{TemplateID: sm.TemplateID, Page: sm.Page, Data: sm.Data}
		r.To = hook.Recipient(i.To)
	}
	return r
}

// SaveRule creates or replaces a rule.
func (s HookStore) SaveRule(ctx context.Context, r hook.Rule) error {
	put, err := s.put(newRuleItem(r))
	if err != nil {
		return err
	}
	return s.putAlone(ctx, put)
}

// Rules reads the tenant's rules with one Query of the tenant's partition.
func (s HookStore) Rules(ctx context.Context, tenant string) ([]hook.Rule, error) {
	return queryAll(ctx, s.Store, prefixQuery(tenantPK(tenant), skHookRule), decodeVia(ruleItem.rule))
}

// EffectDone reports whether the effect was recorded.
func (s HookStore) EffectDone(ctx context.Context, effect string) (bool, error) {
	var it effectItem
	return s.getItem(ctx, effectKey(effect), &it)
}

// MarkDone records the effect; a repeat is no error.
func (s HookStore) MarkDone(ctx context.Context, tenant, effect string) error {
	put, err := s.effectPut(tenant, effect)
	if err != nil {
		return err
	}
	if err = s.putAlone(ctx, put); isConditionFailed(err) {
		return nil
	}
	return err
}

type deadLetterItem struct {
	key
	Kind       string    `dynamodbav:"kind"`
	Tenant     string    `dynamodbav:"tenant"`
	EventID    string    `dynamodbav:"eventId"`
	EventType  string    `dynamodbav:"eventType"`
	RuleID     string    `dynamodbav:"ruleId"`
	Action     string    `dynamodbav:"action"`
	URL        string    `dynamodbav:"url,omitempty"`
	TemplateID string    `dynamodbav:"templateId,omitempty"`
	Recipient  string    `dynamodbav:"recipient,omitempty"`
	Attempts   int       `dynamodbav:"attempts"`
	Status     int       `dynamodbav:"status,omitempty"`
	Error      string    `dynamodbav:"error"`
	Payload    string    `dynamodbav:"payload"`
	At         time.Time `dynamodbav:"at"`
	TTL        int64     `dynamodbav:"ttl"`
}

// newDeadLetterItem keeps dl until ttl; the payload is kept as the text
// the webhook was sent.
func newDeadLetterItem(dl hook.DeadLetter, ttl int64) deadLetterItem {
	return deadLetterItem{
		key:  key{PK: tenantPK(dl.Tenant), SK: skDeadLetter + dl.At.UTC().Format(sortableTime) + "#" + dl.EventID + "#" + dl.RuleID},
		Kind: kindDeadLetter, Tenant: dl.Tenant, EventID: dl.EventID, EventType: string(dl.EventType), RuleID: dl.RuleID,
		Action: dl.Action, URL: dl.URL, TemplateID: dl.TemplateID, Recipient: dl.Recipient, Attempts: dl.Attempts,
		Status: dl.Status, Error: dl.Error, Payload: string(dl.Payload), At: dl.At, TTL: ttl,
	}
}

func (it deadLetterItem) deadLetter() hook.DeadLetter {
	return hook.DeadLetter{
		Tenant: it.Tenant, EventID: it.EventID, EventType: event.Type(it.EventType), RuleID: it.RuleID,
		Action: it.Action, URL: it.URL, TemplateID: it.TemplateID, Recipient: it.Recipient,
		Attempts: it.Attempts, Status: it.Status, Error: it.Error, Payload: []byte(it.Payload), At: it.At,
	}
}

// ClaimEffect records the effect as under way with one conditional
// PutItem; false if it was recorded before.
func (s HookStore) ClaimEffect(ctx context.Context, tenant, effect string) (bool, error) {
	put, err := s.putIf(effectItem{key: effectKey(effect), Kind: kindEffect, Tenant: tenant, TTL: s.ttlAfter(effectKeep), State: effectClaimed}, notExists())
	if err != nil {
		return false, err
	}
	err = s.putAlone(ctx, put)
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// SettleEffect records how a claimed effect ended.
func (s HookStore) SettleEffect(ctx context.Context, effect, outcome string) error {
	cond := expression.Name("state").Equal(expression.Value(effectClaimed))
	err := s.updateAlone(ctx, s.update(effectKey(effect), expression.Set(expression.Name("state"), expression.Value(outcome)), &cond))
	if isConditionFailed(err) {
		return nil // settled already
	}
	return err
}

// ReleaseEffect deletes a claim that is still only a claim.
func (s HookStore) ReleaseEffect(ctx context.Context, effect string) error {
	e := mustBuild(expression.NewBuilder().WithCondition(expression.Name("state").Equal(expression.Value(effectClaimed))))
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: effectKey(effect).av(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	if isConditionFailed(err) {
		return nil
	}
	return err
}

// DeadLetter keeps dl and records the effect in one transaction; if the
// effect is already recorded (a redelivery, a racing invocation) nothing is
// written and it is no error. An effect that is only claimed (a subscribe
// message whose send failed for good) is recorded over its claim.
func (s HookStore) DeadLetter(ctx context.Context, dl hook.DeadLetter, effect string) error {
	fx, err := s.putIf(effectItem{key: effectKey(effect), Kind: kindEffect, Tenant: dl.Tenant, TTL: s.ttlAfter(effectKeep)},
		notExists().Or(expression.Name("state").Equal(expression.Value(effectClaimed))))
	if err != nil {
		return err
	}
	put, err := s.put(newDeadLetterItem(dl, s.ttlAfter(s.retention().DeadLetters)))
	if err != nil {
		return err
	}
	_, err = s.transact(ctx, tx{parts: []part{{"effect", fx}, {"deadLetter", put}}})
	return err // a failed condition means the effect was settled already
}

// DeadLetters reads the tenant's newest dead letters with one Query.
func (s HookStore) DeadLetters(ctx context.Context, tenant string) ([]hook.DeadLetter, error) {
	q := prefixQuery(tenantPK(tenant), skDeadLetter)
	q.descending, q.page = true, deadLettersLimit
	return queryFirst(ctx, s.Store, q, decodeVia(deadLetterItem.deadLetter))
}

// RecordEvent writes an event that comes with no change of state of its
// own, e.g. one replayed by an operator, as an outbox item the stream
// delivers.
func (s HookStore) RecordEvent(ctx context.Context, e event.Event) error {
	put, err := s.eventPut(e)
	if err != nil {
		return err
	}
	err = s.putAlone(ctx, put)
	return err
}

// StreamEvent reads the event a stream record carries. ok is false for
// every record that is not the insertion of an event item (other items,
// updates, TTL deletions), which the hooks function skips.
func StreamEvent(r events.DynamoDBEventRecord) (e event.Event, ok bool, err error) {
	if r.EventName != "INSERT" {
		return event.Event{}, false, nil
	}
	pk := r.Change.Keys["pk"]
	if pk.DataType() != events.DataTypeString || !strings.HasPrefix(pk.String(), "EVT#") {
		return event.Event{}, false, nil
	}
	image, err := fromStreamImage(r.Change.NewImage)
	if err != nil {
		return event.Event{}, false, fmt.Errorf("event %s: %w", pk.String(), err)
	}
	var it eventItem
	if err := attributevalue.UnmarshalMap(image, &it); err != nil {
		return event.Event{}, false, fmt.Errorf("event %s: %w", pk.String(), err)
	}
	if it.Kind != kindEvent || it.ID == "" || it.Tenant == "" {
		return event.Event{}, false, fmt.Errorf("event %s: not an event item", pk.String())
	}
	return it.Event, true, nil
}

// fromStreamImage turns an item image as Lambda delivers it into the SDK's
// attribute values, so items decode the same from the stream as from reads.
func fromStreamImage(m map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		av, err := fromStreamValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func fromStreamValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		list := make([]types.AttributeValue, len(v.List()))
		for i, x := range v.List() {
			av, err := fromStreamValue(x)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			list[i] = av
		}
		return &types.AttributeValueMemberL{Value: list}, nil
	case events.DataTypeMap:
		m, err := fromStreamImage(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported attribute type %d", v.DataType())
}
