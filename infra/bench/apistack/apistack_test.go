package apistack

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

// The events look like API Gateway's (payload 2.0) and decode as
// aws-lambda-go's type.
func TestEvent(t *testing.T) {
	ev := Request{
		Route: "POST /v1/groups/{groupId}/join", Params: map[string]string{"groupId": "ABC"},
		As: Patient("c1", "u1"), IdempotencyKey: "k1",
	}.Event()
	require.Equal(t, "/v1/groups/ABC/join", ev.RawPath)
	require.Equal(t, "POST /v1/groups/{groupId}/join", ev.RouteKey)
	require.Equal(t, http.MethodPost, ev.RequestContext.HTTP.Method)
	require.Equal(t, "k1", ev.Headers["idempotency-key"])
	require.Equal(t, "u1", ev.RequestContext.Authorizer.JWT.Claims["sub"])

	b, err := json.Marshal(ev)
	require.NoError(t, err)
	var back events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, ev.RawPath, back.RawPath)

	public := Request{Route: "GET /v1/deals", Query: map[string]string{"tenant": "c1"}}.Event()
	require.Nil(t, public.RequestContext.Authorizer)
	require.NotContains(t, public.Headers, "idempotency-key")
}

func TestRoutes(t *testing.T) {
	routes := Routes()
	require.NotEmpty(t, routes)
	byKey := map[string]Route{}
	for _, r := range routes {
		byKey[r.Key] = r
	}
	join := byKey["POST /v1/groups/{groupId}/join"]
	require.Equal(t, "GroupBuyFunction", join.Function)
	require.True(t, join.Writes())
	require.False(t, byKey["GET /v1/deals"].Writes())
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// The write log has every item of a call, with its key and kind of write,
// and a transaction's items share the call's number.
func TestWriteLog(t *testing.T) {
	var l WriteLog
	l.Start()
	at := time.Now()
	l.add(at, "TransactWriteItems", &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{Item: map[string]types.AttributeValue{"pk": s("EVT#1"), "sk": s("_")}}},
		{Update: &types.Update{Key: map[string]types.AttributeValue{"pk": s("SEAT#c#d#3"), "sk": s("_")}}},
		{ConditionCheck: &types.ConditionCheck{Key: map[string]types.AttributeValue{"pk": s("T#c#U#u"), "sk": s("PATIENT")}}},
	}}, false)
	l.add(at, "PutItem", &dynamodb.PutItemInput{Item: map[string]types.AttributeValue{"pk": s("IDEM#x"), "sk": s("_")}}, true)
	l.add(at, "GetItem", &dynamodb.GetItemInput{}, true)
	ws := l.Stop()
	require.Len(t, ws, 4)
	require.Equal(t, Write{Call: 1, At: at, Op: "TransactWriteItems", Action: "update", PK: "SEAT#c#d#3", SK: "_", Transactional: true}, ws[1])
	require.Equal(t, "check", ws[2].Action)
	require.Equal(t, int64(1), ws[0].Call)
	require.NotNil(t, ws[0].Item)
	require.Equal(t, Write{Call: 2, At: at, Op: "PutItem", Action: "put", PK: "IDEM#x", SK: "_", OK: true, Item: ws[3].Item}, ws[3])
	require.False(t, l.on.Load(), "the middleware records nothing once stopped")
}

func TestReadLog(t *testing.T) {
	var l ReadLog
	in := &dynamodb.QueryInput{IndexName: aws.String("Expiring")}
	require.True(t, askCapacity(in))
	require.Equal(t, types.ReturnConsumedCapacityTotal, in.ReturnConsumedCapacity)
	require.False(t, askCapacity(&dynamodb.PutItemInput{}))
	l.Start()
	l.add("Query", in, &dynamodb.QueryOutput{Count: 3, ScannedCount: 5, ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: aws.Float64(0.5)}})
	l.add("GetItem", &dynamodb.GetItemInput{}, &dynamodb.GetItemOutput{})
	require.Equal(t, []Read{
		{Op: "Query", Index: "Expiring", Items: 3, Scanned: 5, Capacity: 0.5},
		{Op: "GetItem"},
	}, l.Stop())
}

func TestRoomCopy(t *testing.T) {
	shape := RoomShape{Room: map[string]types.AttributeValue{
		"pk": s("GROUP#OLD"), "groupId": s("OLD"), "kind": s("groupRoom"), "expShard": s("EXP#00"),
	}}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	c := shape.Copy("NEWROOM", exp)
	require.Equal(t, s("GROUP#NEWROOM"), c["pk"])
	require.Equal(t, s("NEWROOM"), c["groupId"])
	require.Equal(t, s("2030-01-02T03:04:05Z"), c["expiresAt"])
	require.Equal(t, s("2030-01-02T03:04:05Z"), c["expAt"])
	require.Equal(t, s(ExpiryShard("NEWROOM")), c["expShard"])
	require.Equal(t, s("GROUP#OLD"), shape.Room["pk"], "the shape is left as it was")
	require.Regexp(t, `^EXP#(0\d|1[0-5])$`, ExpiryShard("NEWROOM"))
}

// Under CaptureCalls a request reads for real and writes nothing; the
// captured calls, sent, do what the request would have done.
func TestCaptureAndSend(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, TestDB(t).WithTable(ctx, func(tb *Table) error {
		st, err := NewStack(ctx, tb)
		require.NoError(t, err)
		require.NoError(t, st.PutTemplate(ctx, "c1", "tpl", map[string]any{
			"title": "券", "kind": "CASH", "valueFen": 100, "validDays": 3, "stock": 5, "perUserLimit": 1, "claimable": true,
		}))
		cctx, captured := CaptureCalls(ctx)
		_, err = st.Must(cctx, ClaimRequest(Patient("c1", "u1"), "tpl"), http.StatusCreated)
		require.NoError(t, err)
		calls := captured.Calls()
		require.Equal(t, "TransactWriteItems", calls[len(calls)-1].Op)

		coupons := func() int {
			out, err := st.Do(ctx, Request{Route: "GET /v1/coupons/me", As: Patient("c1", "u1")})
			require.NoError(t, err)
			var m struct{ Coupons []any }
			require.NoError(t, json.Unmarshal([]byte(out.Body), &m))
			return len(m.Coupons)
		}
		require.Zero(t, coupons(), "nothing was written")
		require.NoError(t, st.Send(ctx, calls[len(calls)-1]))
		require.Equal(t, 1, coupons(), "the captured write issues the coupon")
		return nil
	}))
}
