// Package stream is what Laoyou does without an HTTP request: the hooks
// function's handler of the table's stream (the group-buy's reactions,
// the tenant's hook rules, stats and remaining) and the closer's scheduled
// run (expired rooms, held rewards). The HTTP handlers are shared/api's.
package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/metrics"
	"github.com/laoyou/laoyou/shared/referral"
)

const (
	// hookParallelism bounds the events of one batch handled at once, so a
	// slow webhook does not hold up the others.
	hookParallelism = 16
	// hookMargin is kept back from the invocation's deadline, so the batch
	// reports what failed instead of timing out as a whole.
	hookMargin = 2 * time.Second
)

// Hooks is the hooks function's handler: events from the table's stream.
// It reads new event items, opened share links (counted as clicks when
// their code exists), and bindings replaced by a binding to another
// referrer (whose former referrer's friend entry it drops); every other
// record is skipped (in AWS the event source's filter already drops them).
// Per batch it rolls up `remaining` (one write per deal or template, not
// per event) and counts the admin stats (writes per tenant, not per event);
// for each event it applies the group-buy's reactions, then Laoyou's
// built-in reactions (group vouchers, referral milestones) and the tenant's
// rules; each effect happens once per (event, rule, recipient) however
// often the stream delivers the record. Records whose effects failed in a
// way a retry may mend are reported as batch item failures and come again.
func Hooks(d *app.Deps) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	h := &hooksHandler{d: d, hooks: d.Hooks(), reactions: GroupReactions(d)}
	return h.handle
}

type hooksHandler struct {
	d         *app.Deps
	hooks     *app.Hooks
	reactions map[event.Type]func(context.Context, event.Event) error
}

type streamedEvent struct {
	seq string // the record's sequence number, its ItemIdentifier
	e   event.Event
}

func (h *hooksHandler) handle(ctx context.Context, in events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	// The store's clock, not the business one (tests move that): arrival
	// orders readings of the shards (see RefreshRemaining).
	arrived := h.d.Store.Now()
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 2*hookMargin {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-hookMargin))
		defer cancel()
	}
	evs, resp := h.decode(ctx, in)
	failed := h.rollUp(ctx, arrived, evs)
	h.applyAll(ctx, evs, failed)

	// Business metrics of the events done; a failed one is counted when
	// the stream brings it again.
	var done []event.Event
	for i, f := range failed {
		if !f {
			done = append(done, evs[i].e)
		}
	}
	if err := metrics.FromEvents(h.d.Metrics, done); err != nil {
		h.d.Log.WarnContext(ctx, "metrics not written", "error", err.Error())
	}
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: evs[i].seq})
		}
	}
	return resp, nil
}

// decode turns the batch's records into events (opened links become
// clicks) and drops former friends; resp holds the records already failed.
func (h *hooksHandler) decode(ctx context.Context, in events.DynamoDBEvent) ([]streamedEvent, events.DynamoDBEventResponse) {
	var evs []streamedEvent
	var opens []streamedOpen
	var resp events.DynamoDBEventResponse
	for _, r := range in.Records {
		e, ok, err := dynamo.StreamEvent(r)
		o, isOpen, openErr := dynamo.StreamOpen(r)
		switch {
		case err != nil || openErr != nil:
			// No retry can mend a record that does not decode; it is logged
			// for an operator, and the stream goes on.
			h.d.Log.ErrorContext(ctx, "stream record skipped", "sequence", r.Change.SequenceNumber, "error", errors.Join(err, openErr).Error())
		case ok:
			evs = append(evs, streamedEvent{seq: r.Change.SequenceNumber, e: e})
		case isOpen:
			opens = append(opens, streamedOpen{seq: r.Change.SequenceNumber, o: o})
		default:
			if err := h.dropFormerFriend(ctx, r); err != nil {
				h.d.Log.WarnContext(ctx, "former friend not dropped", "sequence", r.Change.SequenceNumber, "error", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			}
		}
	}
	clicks, err := h.clicks(ctx, opens)
	if err != nil {
		h.d.Log.WarnContext(ctx, "opens not resolved", "error", err.Error())
		for _, so := range opens {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: so.seq})
		}
	}
	return append(evs, clicks...), resp
}

// rollUp refreshes remaining and counts the stats for the whole batch,
// and says which events failed in it.
func (h *hooksHandler) rollUp(ctx context.Context, arrived time.Time, evs []streamedEvent) []bool {
	failed := make([]bool, len(evs))
	all := make([]event.Event, len(evs))
	for i, se := range evs {
		all[i] = se.e
	}

	// remaining on the deals and templates: rolled up from their shards
	// once per deal or template and batch, from a reading taken after the
	// batch arrived, so it holds every seat and coupon of these events.
	if err := errors.Join(
		h.d.Groups().RefreshRemaining(ctx, arrived, all...),
		h.d.Coupons().RefreshRemaining(ctx, arrived, all...),
	); err != nil {
		h.d.Log.WarnContext(ctx, "remaining not refreshed", "error", err.Error())
		for i, se := range evs {
			failed[i] = failed[i] || groupbuy.CountsSeats(se.e.Type) || len(coupon.StockChangedBy(se.e)) > 0
		}
	}

	// The admin stats: once per event, whatever the stream repeats.
	if err := h.d.Stats().Count(ctx, all); err != nil {
		h.d.Log.WarnContext(ctx, "stats not counted", "error", err.Error())
		for i, se := range evs {
			_, counted := hook.Contribution(se.e)
			failed[i] = failed[i] || counted
		}
	}
	return failed
}

// applyAll applies each event, marking in failed those that fail. An
// event that fails is marked for the stream to bring again, not
// returned: it must not stop the others.
func (h *hooksHandler) applyAll(ctx context.Context, evs []streamedEvent, failed []bool) {
	var applying errgroup.Group
	applying.SetLimit(hookParallelism)
	for i := range evs {
		applying.Go(func() error {
			if err := h.apply(ctx, evs[i].e); err != nil {
				h.d.Log.WarnContext(ctx, "event will be retried", "eventId", evs[i].e.ID, "type", string(evs[i].e.Type), "error", err.Error())
				failed[i] = true
			}
			return nil
		})
	}
	_ = applying.Wait()
}

type streamedOpen struct {
	seq string
	o   referral.Opened
}

// clicks are the opened share links of known codes, as referral.clicked
// events of their tenants (one read for the batch's codes); an unknown
// code's open is dropped here.
func (h *hooksHandler) clicks(ctx context.Context, opens []streamedOpen) ([]streamedEvent, error) {
	if len(opens) == 0 {
		return nil, nil
	}
	seqOf := make(map[string]string, len(opens))
	list := make([]referral.Opened, 0, len(opens))
	for _, so := range opens {
		seqOf[so.o.ID] = so.seq
		list = append(list, so.o)
	}
	evs, err := h.d.Referrals().Clicks(ctx, list)
	if err != nil {
		return nil, err
	}
	out := make([]streamedEvent, 0, len(evs))
	for _, e := range evs {
		out = append(out, streamedEvent{seq: seqOf[e.ID], e: e})
	}
	return out, nil
}

// dropFormerFriend takes a referee whose expired binding was replaced off
// the former referrer's friends; records of anything else pass.
func (h *hooksHandler) dropFormerFriend(ctx context.Context, r events.DynamoDBEventRecord) error {
	rebound, ok, err := dynamo.ReboundFrom(r)
	if err != nil {
		h.d.Log.ErrorContext(ctx, "stream record skipped", "sequence", r.Change.SequenceNumber, "error", err.Error())
		return nil
	}
	if !ok {
		return nil
	}
	return h.d.Referrals().DropFormerFriend(ctx, rebound)
}

func (h *hooksHandler) apply(ctx context.Context, e event.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	if react := h.reactions[e.Type]; react != nil {
		if err := react(ctx, e); err != nil {
			return err
		}
	}
	return h.hooks.Dispatcher.Dispatch(ctx, e)
}
