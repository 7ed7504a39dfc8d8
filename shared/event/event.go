// Package event defines the facts Laoyou records when state changes. Each is
// written in the same DynamoDB transaction as its change (an outbox) and
// reaches the hooks function through the table's stream.
package event

import (
	"time"

	"github.com/google/uuid"
)

// Type names an event, e.g. "referral.bound".
type Type string

const (
	ReferralClicked   Type = "referral.clicked" // internal: feeds click stats
	ReferralBound     Type = "referral.bound"
	ReferralQualified Type = "referral.qualified"
	ReferralReversed  Type = "referral.reversed"
	GroupOpened       Type = "group.opened"
	GroupJoined       Type = "group.joined"
	GroupSucceeded    Type = "group.succeeded"
	GroupFailed       Type = "group.failed"
	CouponIssued      Type = "coupon.issued"
	CouponRedeemed    Type = "coupon.redeemed"
	UserErased        Type = "user.erased" // a patient's data was erased (PIPL): {userId, erasedAt}
)

// Public lists the event types hook rules may subscribe to (docs/API.md).
var Public = []Type{
	ReferralBound, ReferralQualified, ReferralReversed,
	GroupOpened, GroupJoined, GroupSucceeded, GroupFailed,
	CouponIssued, CouponRedeemed, UserErased,
}

// Event is one recorded fact. Data holds ids, never names or phones; webhook
// receivers get it as is.
type Event struct {
	ID         string         `json:"id" dynamodbav:"id"`
	Type       Type           `json:"type" dynamodbav:"type"`
	Tenant     string         `json:"tenant" dynamodbav:"tenant"`
	OccurredAt time.Time      `json:"occurredAt" dynamodbav:"occurredAt"`
	Data       map[string]any `json:"data" dynamodbav:"data"`
}

// New makes an event with a time-ordered id.
func New(t Type, tenant string, at time.Time, data map[string]any) Event {
	return Event{ID: uuid.Must(uuid.NewV7()).String(), Type: t, Tenant: tenant, OccurredAt: at.UTC(), Data: data}
}
