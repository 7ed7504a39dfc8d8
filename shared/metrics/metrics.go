// Package metrics turns Laoyou's business events into CloudWatch metrics:
// rooms opened, joined, succeeded and failed, coupons claimed and redeemed,
// referrals bound, qualified, rewarded and reversed, and webhooks that
// failed for good, each counted per tenant.
//
// It writes CloudWatch Embedded Metric Format (EMF): one JSON line per
// tenant on the function's stdout, which Lambda ships to CloudWatch Logs,
// where the metrics are extracted. No API call, no extra latency, no
// permission needed. Every state change is an event on the table's stream,
// so the hooks function, which sees all of them, is the one place that
// counts them (FromEvents); webhook failures, which only its dispatcher
// sees, are counted as they are dead-lettered (CountingDeadLetters).
package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/referral"
)

// Namespace is the CloudWatch namespace of every Laoyou metric.
const Namespace = "Laoyou"

// TenantDimension is the one dimension of every metric: the clinic.
const TenantDimension = "Tenant"

// Metric names a business metric; each is a count.
type Metric string

const (
	RoomsOpened        Metric = "RoomsOpened"
	RoomsJoined        Metric = "RoomsJoined"
	RoomsSucceeded     Metric = "RoomsSucceeded"
	RoomsFailed        Metric = "RoomsFailed"
	CouponsClaimed     Metric = "CouponsClaimed"
	CouponsRedeemed    Metric = "CouponsRedeemed"
	ReferralsBound     Metric = "ReferralsBound"
	ReferralsQualified Metric = "ReferralsQualified"
	ReferralsReversed  Metric = "ReferralsReversed"
	ReferralsRewarded  Metric = "ReferralsRewarded"
	WebhookFailures    Metric = "WebhookFailures"
	UsersErased        Metric = "UsersErased" // patients' erasures (PIPL), for the clinic's records
)

// All lists every metric, for dashboards and alarms built from code.
var All = []Metric{
	RoomsOpened, RoomsJoined, RoomsSucceeded, RoomsFailed,
	CouponsClaimed, CouponsRedeemed,
	ReferralsBound, ReferralsQualified, ReferralsReversed, ReferralsRewarded,
	WebhookFailures, UsersErased,
}

// byEvent is the metric each event type counts towards. coupon.issued is
// special: only a patient's own claim counts (see metricOf).
var byEvent = map[event.Type]Metric{
	event.GroupOpened:       RoomsOpened,
	event.GroupJoined:       RoomsJoined,
	event.GroupSucceeded:    RoomsSucceeded,
	event.GroupFailed:       RoomsFailed,
	event.CouponRedeemed:    CouponsRedeemed,
	event.ReferralBound:     ReferralsBound,
	event.ReferralQualified: ReferralsQualified,
	event.ReferralReversed:  ReferralsReversed,
	referral.RewardedEvent:  ReferralsRewarded, // a referral's first reward released after the hold
	event.UserErased:        UsersErased,
}

// metricOf is the metric e counts towards, if any.
func metricOf(e event.Event) (Metric, bool) {
	if e.Type == event.CouponIssued {
		// Rewards and vouchers are issued by hooks; they are not claims.
		src, _ := e.Data["source"].(string)
		return CouponsClaimed, src == "claim"
	}
	m, ok := byEvent[e.Type]
	return m, ok
}

// Counts are one tenant's metrics.
type Counts map[Metric]int

// FromEvents writes the counts of a batch of events: one line per tenant,
// every metric of that tenant in it. Events that count towards no metric
// (clicks, coupons issued by hooks) are left out; a batch with none writes
// nothing.
func FromEvents(w io.Writer, evs []event.Event) error {
	byTenant := map[string]Counts{}
	for _, e := range evs {
		m, ok := metricOf(e)
		if !ok || e.Tenant == "" {
			continue
		}
		c := byTenant[e.Tenant]
		if c == nil {
			c = Counts{}
			byTenant[e.Tenant] = c
		}
		c[m]++
	}
	for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
		if err := Emit(w, tenant, byTenant[tenant]); err != nil {
			return err
		}
	}
	return nil
}

// WebhookFailed counts n webhook deliveries of tenant that failed for good
// (dead-lettered after their retries).
func WebhookFailed(w io.Writer, tenant string, n int) error {
	return Emit(w, tenant, Counts{WebhookFailures: n})
}

// CountingDeadLetters is s, but each webhook it dead-letters is counted as
// a webhook failure on w. A dead letter that a redelivery of its event
// writes again is counted again: rare, and a failure alarm tolerates it.
func CountingDeadLetters(s hook.Store, w io.Writer) hook.Store {
	return deadLetterCounter{Store: s, w: w}
}

type deadLetterCounter struct {
	hook.Store
	w io.Writer
}

func (c deadLetterCounter) DeadLetter(ctx context.Context, dl hook.DeadLetter, effect string) error {
	if err := c.Store.DeadLetter(ctx, dl, effect); err != nil {
		return err
	}
	// The dead letter is kept: a metric that cannot be written does not
	// make the event come again.
	switch dl.Action {
	case "webhook":
		_ = WebhookFailed(c.w, dl.Tenant, 1)
	case "subscribeMessage":
		_ = Emit(c.w, dl.Tenant, Counts{SubscribeFailures: 1})
	}
	return nil
}

// writeMu keeps lines whole when goroutines of one function emit at once
// (the hooks function handles a batch's events in parallel).
var writeMu sync.Mutex

// Emit writes one EMF line with tenant's counts, metrics in name order.
// Zero and negative counts are left out; with none left it writes nothing.
func Emit(w io.Writer, tenant string, counts Counts) error {
	names := make([]Metric, 0, len(counts))
	for m, n := range counts {
		if n > 0 {
			names = append(names, m)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	line, err := encode(time.Now(), tenant, names, counts)
	if err != nil {
		return err
	}
	writeMu.Lock()
	defer writeMu.Unlock()
	_, err = w.Write(line)
	return err
}

// emfMetadata is an EMF line's "_aws" member: it tells CloudWatch which of
// the line's root members are metrics, and of which dimensions.
type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"` // milliseconds since the epoch
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string          `json:"Namespace"`
	Dimensions [][]string      `json:"Dimensions"`
	Metrics    []emfDefinition `json:"Metrics"`
}

type emfDefinition struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

func encode(at time.Time, tenant string, names []Metric, counts Counts) ([]byte, error) {
	defs := make([]emfDefinition, len(names))
	doc := make(map[string]any, len(names)+2)
	for i, m := range names {
		defs[i] = emfDefinition{Name: string(m), Unit: "Count"}
		doc[string(m)] = counts[m]
	}
	doc["_aws"] = emfMetadata{
		Timestamp: at.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  Namespace,
			Dimensions: [][]string{{TenantDimension}},
			Metrics:    defs,
		}},
	}
	doc[TenantDimension] = tenant
	line, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return append(line, '\n'), nil
}
