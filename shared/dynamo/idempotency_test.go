package dynamo

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/idempotency"
)

// A write cancelled on its key's record is done only when the record is
// this very write's; a record of an earlier attempt of the same request
// (another room id, say) or of another request is replayed as stored.
func TestKeyRecordFailedReplaysWhatWasDone(t *testing.T) {
	stored := idempotency.Record{Key: "t#u#k", Token: "tok-1", PayloadHash: "h",
		ExpiresAt: time.Unix(2_000_000_000, 0), ResponseStatus: 201, ResponseBody: `{"groupId":"ROOM1"}`}
	item, err := attributevalue.MarshalMap(toIdemItem(stored))
	require.NoError(t, err)
	held := failed{Code: "ConditionalCheckFailed", Item: item}

	tests := []struct {
		name       string
		own        idempotency.Record
		done       bool
		replayBody string
	}{
		{"this write, resent by the SDK", idempotency.Record{Token: "tok-1", ResponseStatus: 201, ResponseBody: `{"groupId":"ROOM1"}`}, true, ""},
		{"a later attempt of the same request", idempotency.Record{Token: "tok-1", ResponseStatus: 201, ResponseBody: `{"groupId":"ROOM2"}`}, false, `{"groupId":"ROOM1"}`},
		{"another request with the key", idempotency.Record{Token: "tok-2", ResponseStatus: 201, ResponseBody: `{"groupId":"ROOM1"}`}, false, `{"groupId":"ROOM1"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := keyRecordFailed(&tc.own, held)
			if tc.done {
				require.NoError(t, err)
				return
			}
			var replay *idempotency.Replay
			require.True(t, errors.As(err, &replay), "got %v", err)
			require.Equal(t, tc.replayBody, replay.Stored.ResponseBody)
			require.Equal(t, 201, replay.Stored.ResponseStatus)
		})
	}
}
