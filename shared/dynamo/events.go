package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/event"
)

// eventItem is an outbox entry: written in the transaction of the change it
// records, read by the hooks function from the stream.
type eventItem struct {
	key
	Kind string `dynamodbav:"kind"`
	event.Event
	TTL int64 `dynamodbav:"ttl"`
}

// eventPut is the transaction item that records e. It expires after the
// event retention: TTL only cleans up, the stream delivered it long before.
func (s *Store) eventPut(e event.Event) (types.TransactWriteItem, error) {
	return s.putIf(eventItem{
		key:   key{PK: eventPK(e.ID), SK: skSelf},
		Kind:  kindEvent,
		Event: e,
		TTL:   s.ttlAfter(s.retention().Events),
	}, notExists())
}
