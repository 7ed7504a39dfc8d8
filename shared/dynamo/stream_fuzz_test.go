package dynamo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/stretchr/testify/require"
)

// streamRecordSeeds are stream batches as Lambda hands them to the hooks
// function: one of Laoyou's events, other items and other shapes.
var streamRecordSeeds = []string{
	// A group.joined event item, as written by JoinRoom.
	`{"Records":[{"eventID":"1","eventName":"INSERT","eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{` +
		`"Keys":{"pk":{"S":"EVT#0190f4a2-7c3e-7b2a-9a1e-2f3c4d5e6f70"},"sk":{"S":"_"}},` +
		`"NewImage":{"pk":{"S":"EVT#0190f4a2-7c3e-7b2a-9a1e-2f3c4d5e6f70"},"sk":{"S":"_"},"kind":{"S":"event"},` +
		`"id":{"S":"0190f4a2-7c3e-7b2a-9a1e-2f3c4d5e6f70"},"type":{"S":"group.joined"},"tenant":{"S":"clinic-a"},` +
		`"occurredAt":{"S":"2025-01-31T16:00:00Z"},"ttl":{"N":"1740000000"},` +
		`"data":{"M":{"groupId":{"S":"HX7K2PQ9RAB"},"dealId":{"S":"duo"},"userId":{"S":"bob"},"joined":{"N":"2"},` +
		`"members":{"L":[{"M":{"userId":{"S":"alice"},"leader":{"BOOL":true},"priceFen":{"N":"9900"}}}]}}}},` +
		`"SequenceNumber":"111","SizeBytes":26,"StreamViewType":"NEW_AND_OLD_IMAGES"}}]}`,
	// The same key, modified: not an insertion.
	`{"Records":[{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"EVT#x"}},"NewImage":{"kind":{"S":"event"}},"SequenceNumber":"2"}}]}`,
	// Another item, and a TTL deletion.
	`{"Records":[{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"GROUP#ABC"},"sk":{"S":"_"}},"NewImage":{"pk":{"S":"GROUP#ABC"}},"SequenceNumber":"3"}},` +
		`{"eventName":"REMOVE","userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},"dynamodb":{"Keys":{"pk":{"S":"EVT#y"}},"SequenceNumber":"4"}}]}`,
	// An event item missing its fields, or with fields of the wrong type.
	`{"Records":[{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"EVT#z"}},"NewImage":{"kind":{"S":"event"},"id":{"N":"1"},"tenant":{"BOOL":true}},"SequenceNumber":"5"}}]}`,
	`{"Records":[{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"N":"1"}},"SequenceNumber":"6"}}]}`,
	`{"Records":[{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"EVT#w"}},"NewImage":{"kind":{"S":"event"},"id":{"S":"w"},"tenant":{"S":"t"},"occurredAt":{"S":"yesterday"},"data":{"SS":["a"]}},"SequenceNumber":"7"}}]}`,
	`{"Records":[{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"EVT#v"}},"NewImage":{"kind":{"S":"event"},"id":{"S":"v"},"tenant":{"S":"t"},"data":{"M":{"x":{"NULL":true},"b":{"B":"AAEC"},"ns":{"NS":["1","2.5"]},"bs":{"BS":["AA=="]},"l":{"L":[{"L":[]}]}}}},"SequenceNumber":"8"}}]}`,
	`{"Records":[{}]}`,
	`{}`,
	// A binding rebound from alice to zoe, and one that qualified.
	`{"Records":[{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"T#t#U#bob"},"sk":{"S":"BOUND_TO"}},` +
		`"OldImage":{"kind":{"S":"binding"},"tenant":{"S":"t"},"refereeId":{"S":"bob"},"referrerId":{"S":"alice"},"stage":{"S":"BOUND"}},` +
		`"NewImage":{"kind":{"S":"binding"},"tenant":{"S":"t"},"refereeId":{"S":"bob"},"referrerId":{"S":"zoe"},"stage":{"S":"BOUND"}},"SequenceNumber":"9"}},` +
		`{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"T#t#U#bob"},"sk":{"S":"BOUND_TO"}},` +
		`"OldImage":{"kind":{"S":"binding"},"tenant":{"S":"t"},"refereeId":{"S":"bob"},"referrerId":{"S":"alice"},"stage":{"S":"BOUND"}},` +
		`"NewImage":{"kind":{"S":"binding"},"tenant":{"S":"t"},"refereeId":{"S":"bob"},"referrerId":{"S":"alice"},"stage":{"S":"QUALIFIED"}},"SequenceNumber":"10"}}]}`,
}

// FuzzStreamEvent feeds stream batches, as the Lambda runtime decodes them
// from JSON, to the decoding of the hooks function: whatever a record
// holds, StreamEvent never panics; it yields an event only from the
// insertion of an event item with an id and a tenant, and an error only
// for an event item it cannot read (which the hooks function logs and
// skips, so no record blocks the stream).
func FuzzStreamEvent(f *testing.F) {
	for _, s := range streamRecordSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, batch []byte) {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(batch, &ev); err != nil {
			return // the runtime refuses it before any handler runs
		}
		for _, r := range ev.Records {
			e, ok, err := StreamEvent(r)
			pk := r.Change.Keys["pk"]
			isEventKey := pk.DataType() == events.DataTypeString && strings.HasPrefix(pk.String(), "EVT#")
			switch {
			case ok && err != nil:
				t.Fatalf("an event and an error: %v", err)
			case ok && (e.ID == "" || e.Tenant == ""):
				t.Fatalf("an event without id or tenant: %+v", e)
			case (ok || err != nil) && (r.EventName != "INSERT" || !isEventKey):
				t.Fatalf("record %s of %v read as an event (ok %v, err %v)", r.EventName, pk, ok, err)
			}
			// The other record the hooks function reads: a rebound binding.
			rb, ok, err := ReboundFrom(r)
			sk := r.Change.Keys["sk"]
			isBinding := sk.DataType() == events.DataTypeString && sk.String() == skBoundTo
			switch {
			case (ok || err != nil) && (r.EventName != "MODIFY" || !isBinding):
				t.Fatalf("record %s of %v read as a rebound binding (ok %v, err %v)", r.EventName, sk, ok, err)
			case ok && (rb.FormerReferrerID == "" || err != nil):
				t.Fatalf("a rebound binding without its former referrer: %+v, %v", rb, err)
			}
		}
	})
}

// TestStreamEventSeeds pins what the seeds decode to.
func TestStreamEventSeeds(t *testing.T) {
	tests := []struct {
		seed    int
		ok, err []bool // per record
	}{
		{0, []bool{true}, []bool{false}},
		{1, []bool{false}, []bool{false}},
		{2, []bool{false, false}, []bool{false, false}},
		{3, []bool{false}, []bool{true}},
		{4, []bool{false}, []bool{false}},
		{5, []bool{false}, []bool{true}},
		{6, []bool{true}, []bool{false}},
		{9, []bool{false, false}, []bool{false, false}},
	}
	for _, tt := range tests {
		var ev events.DynamoDBEvent
		require.NoError(t, json.Unmarshal([]byte(streamRecordSeeds[tt.seed]), &ev), "seed %d", tt.seed)
		require.Len(t, ev.Records, len(tt.ok))
		for i, r := range ev.Records {
			e, ok, err := StreamEvent(r)
			require.Equal(t, tt.ok[i], ok, "seed %d record %d", tt.seed, i)
			require.Equal(t, tt.err[i], err != nil, "seed %d record %d: %v", tt.seed, i, err)
			if tt.seed == 9 {
				rb, ok, err := ReboundFrom(r)
				require.NoError(t, err)
				require.Equal(t, i == 0, ok, "record %d: only the rebinding", i)
				if ok {
					require.Equal(t, referral.Rebound{Tenant: "t", RefereeID: "bob", FormerReferrerID: "alice"}, rb)
				}
			}
			if tt.seed == 0 {
				require.Equal(t, "group.joined", string(e.Type))
				require.Equal(t, "bob", e.Data["userId"])
			}
		}
	}
}
