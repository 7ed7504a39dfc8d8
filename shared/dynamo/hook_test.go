package dynamo

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/event"
)

// streamRecord is an event item's insertion as Lambda delivers it, in
// DynamoDB JSON.
const streamRecord = `{
  "eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
  "dynamodb": {
    "SequenceNumber": "100", "StreamViewType": "NEW_AND_OLD_IMAGES",
    "Keys": {"pk": {"S": "EVT#0190-e1"}, "sk": {"S": "_"}},
    "NewImage": {
      "pk": {"S": "EVT#0190-e1"}, "sk": {"S": "_"}, "kind": {"S": "event"},
      "id": {"S": "0190-e1"}, "type": {"S": "group.succeeded"}, "tenant": {"S": "clinic-a"},
      "occurredAt": {"S": "2025-06-01T08:00:00Z"}, "ttl": {"N": "1751356800"},
      "data": {"M": {
        "groupId": {"S": "G1"}, "voucherTemplateId": {"S": "facial"}, "sizes": {"NS": ["1", "2"]},
        "tags": {"SS": ["a"]}, "note": {"NULL": true}, "blob": {"B": "AQI="},
        "members": {"L": [
          {"M": {"userId": {"S": "u1"}, "priceFen": {"N": "9900"}, "leader": {"BOOL": true}}},
          {"M": {"userId": {"S": "u2"}, "priceFen": {"N": "12900"}, "leader": {"BOOL": false}}}
        ]}
      }}
    }
  }
}`

func TestStreamEvent(t *testing.T) {
	var r events.DynamoDBEventRecord
	require.NoError(t, json.Unmarshal([]byte(streamRecord), &r))
	e, ok, err := StreamEvent(r)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "0190-e1", e.ID)
	require.Equal(t, event.GroupSucceeded, e.Type)
	require.Equal(t, "clinic-a", e.Tenant)
	require.Equal(t, time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC), e.OccurredAt)
	members := e.Data["members"].([]any)
	require.Len(t, members, 2)
	require.Equal(t, map[string]any{"userId": "u1", "priceFen": 9900.0, "leader": true}, members[0])
	require.Equal(t, "facial", e.Data["voucherTemplateId"])

	t.Run("not an insertion", func(t *testing.T) {
		mod := r
		mod.EventName = "REMOVE"
		_, ok, err := StreamEvent(mod)
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("not an event item", func(t *testing.T) {
		other := r
		other.Change.Keys = map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("COUPON#X")}
		_, ok, err := StreamEvent(other)
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("an event key on something else", func(t *testing.T) {
		bad := r
		bad.Change.NewImage = map[string]events.DynamoDBAttributeValue{"kind": events.NewStringAttribute("coupon")}
		_, _, err := StreamEvent(bad)
		require.Error(t, err)
	})
}
