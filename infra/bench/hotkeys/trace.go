package hotkeys

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/infra/bench/apistack"
)

// trace is the writes a spike's requests made, and those the hooks made
// for the events they wrote, recorded by the stack's write log.
type trace struct {
	requests []apistack.Write
	hooks    []apistack.Write
	batches  int // stream batches the hooks were handed
	events   int // events in them
}

// record runs the spike's requests (run) with the write log on, then hands
// the events they wrote to the hooks function as its stream event source
// would: only new event items (the template's filter), in the order they
// were written, batchSize a batch; and again the events the hooks wrote,
// until none are new.
func record(ctx context.Context, s *apistack.Stack, batchSize int, run func() error) (trace, error) {
	var tr trace
	s.Writes.Start()
	err := run()
	tr.requests = s.Writes.Stop()
	if err != nil {
		return tr, err
	}
	hooks := s.Fns.Stream["HooksFunction"]
	if hooks == nil {
		return tr, errors.New("no HooksFunction among the stream handlers")
	}
	pending := newEvents(tr.requests)
	for generation := 0; len(pending) > 0 && generation < 5; generation++ {
		s.Writes.Start()
		for start := 0; start < len(pending); start += batchSize {
			batch := pending[start:min(start+batchSize, len(pending))]
			resp, err := hooks(ctx, streamBatch(batch, tr.events))
			if err == nil && len(resp.BatchItemFailures) > 0 {
				err = fmt.Errorf("%d events of a batch failed", len(resp.BatchItemFailures))
			}
			if err != nil {
				s.Writes.Stop()
				return tr, fmt.Errorf("hooks: %w", err)
			}
			tr.batches++
			tr.events += len(batch)
		}
		written := s.Writes.Stop()
		tr.hooks = append(tr.hooks, written...)
		pending = newEvents(written)
	}
	return tr, nil
}

// newEvents are the event items that writes created, in the order of the
// calls that wrote them.
func newEvents(ws []apistack.Write) []map[string]types.AttributeValue {
	sorted := append([]apistack.Write(nil), ws...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	var out []map[string]types.AttributeValue
	for _, w := range sorted {
		if w.OK && w.Action == "put" && strings.HasPrefix(w.PK, "EVT#") {
			out = append(out, w.Item)
		}
	}
	return out
}

// streamBatch is the records Lambda would deliver for new items.
func streamBatch(items []map[string]types.AttributeValue, seq int) events.DynamoDBEvent {
	var ev events.DynamoDBEvent
	for i, item := range items {
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{
			EventName: "INSERT", EventSource: "aws:dynamodb", EventVersion: "1.1", AWSRegion: "us-east-1",
			Change: events.DynamoDBStreamRecord{
				Keys:           map[string]events.DynamoDBAttributeValue{"pk": streamValue(item["pk"]), "sk": streamValue(item["sk"])},
				NewImage:       streamImage(item),
				SequenceNumber: strconv.Itoa(seq + i + 1),
				StreamViewType: "NEW_AND_OLD_IMAGES",
			},
		})
	}
	return ev
}

func streamImage(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = streamValue(v)
	}
	return out
}

func streamValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = streamValue(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(streamImage(v.Value))
	}
	return events.NewNullAttribute()
}
