package dynamo

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/event"
)

// eventKeep is how long event items stay; TTL only cleans up, the stream
// has already delivered them.
const eventKeep = 30 * 24 * time.Hour

// eventItem is an outbox entry: written in the transaction of the change it
// records, read by the hooks function from the stream.
type eventItem struct {
	key
	Kind string `dynamodbav:"kind"`
	event.Event
	TTL int64 `dynamodbav:"ttl"`
}

// eventPut is the transaction item that records e.
func (s *Store) eventPut(e event.Event) (types.TransactWriteItem, error) {
	return s.putIf(eventItem{
		key:   key{PK: eventPK(e.ID), SK: skSelf},
		Kind:  kindEvent,
		Event: e,
		TTL:   s.ttlAfter(eventKeep),
	}, notExists())
}
