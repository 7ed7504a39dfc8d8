package dynamo

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"
)

// A cancelled transaction is read by the names of its parts, wherever they
// stood: parts sharing a name (a deal's seat shards) failed when any of
// them did, and a part left out of this transaction (an optional check)
// reads as a condition that held.
func TestCancellationReadsEachPartByName(t *testing.T) {
	const condFailed, none = "ConditionalCheckFailed", "None"
	seat := map[string]types.AttributeValue{"taken": &types.AttributeValueMemberN{Value: "4"}}
	var room tx
	room.add("room", types.TransactWriteItem{})
	room.add("seats", types.TransactWriteItem{})
	room.add("seats", types.TransactWriteItem{})
	withKey := room.with(keyPart, types.TransactWriteItem{})
	cancelled := &cancellation{parts: withKey.parts, reasons: []failed{
		{Code: none}, {Code: none}, {Code: condFailed, Item: seat}, {Code: condFailed},
	}}

	tests := []struct {
		part   string
		failed bool
		item   map[string]types.AttributeValue
	}{
		{"room", false, nil},
		{"seats", true, seat},
		{keyPart, true, nil},
		{"newcomer", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.part, func(t *testing.T) {
			got := cancelled.by(tt.part)
			require.Equal(t, tt.failed, got.ConditionFailed())
			require.Equal(t, tt.item, got.Item)
		})
	}
}
