package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"
)

func TestConvertAttributeValue(t *testing.T) {
	tests := []struct {
		name     string
		in       types.AttributeValue
		want     events.DynamoDBAttributeValue
		wantJSON string
	}{
		{"S", &types.AttributeValueMemberS{Value: "张三"}, events.NewStringAttribute("张三"), `{"S":"张三"}`},
		{"N", &types.AttributeValueMemberN{Value: "19900"}, events.NewNumberAttribute("19900"), `{"N":"19900"}`},
		{"B", &types.AttributeValueMemberB{Value: []byte{1, 2}}, events.NewBinaryAttribute([]byte{1, 2}), `{"B":"AQI="}`},
		{"BOOL", &types.AttributeValueMemberBOOL{Value: true}, events.NewBooleanAttribute(true), `{"BOOL":true}`},
		{"NULL", &types.AttributeValueMemberNULL{Value: true}, events.NewNullAttribute(), `{"NULL":true}`},
		{"SS", &types.AttributeValueMemberSS{Value: []string{"a", "b"}}, events.NewStringSetAttribute([]string{"a", "b"}), `{"SS":["a","b"]}`},
		{"NS", &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}}, events.NewNumberSetAttribute([]string{"1", "2.5"}), `{"NS":["1","2.5"]}`},
		{"BS", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}}, events.NewBinarySetAttribute([][]byte{{1}, {2}}), `{"BS":["AQ==","Ag=="]}`},
		{
			"L",
			&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "1"}}},
			events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("x"), events.NewNumberAttribute("1")}),
			`{"L":[{"S":"x"},{"N":"1"}]}`,
		},
		{
			"M nested",
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"inner": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"ok": &types.AttributeValueMemberBOOL{Value: false}}},
				"list":  &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			}},
			events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
				"inner": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"ok": events.NewBooleanAttribute(false)}),
				"list":  events.NewListAttribute([]events.DynamoDBAttributeValue{}),
			}),
			`{"M":{"inner":{"M":{"ok":{"BOOL":false}}},"list":{"L":[]}}}`,
		},
		{"empty M", &types.AttributeValueMemberM{}, events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{}), `{"M":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConvertAttributeValue(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, tc.wantJSON, string(b))
			// And it reads back through the event's own decoder.
			var back events.DynamoDBAttributeValue
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, got.DataType(), back.DataType())
		})
	}

	_, err := ConvertAttributeValue(&types.UnknownUnionMember{Tag: "X"})
	require.Error(t, err)
	_, err = ConvertAttributeValue(&types.AttributeValueMemberL{Value: []types.AttributeValue{nil}})
	require.Error(t, err)
}

func TestConvertStreamRecord(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	r := types.Record{
		AwsRegion:    aws.String("ddblocal"),
		EventID:      aws.String("e-1"),
		EventName:    types.OperationTypeModify,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &at,
			Keys:                        map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#1"}},
			NewImage:                    map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#1"}, "n": &types.AttributeValueMemberN{Value: "2"}},
			OldImage:                    map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#1"}, "n": &types.AttributeValueMemberN{Value: "1"}},
			SequenceNumber:              aws.String("100"),
			SizeBytes:                   aws.Int64(42),
			StreamViewType:              types.StreamViewTypeNewAndOldImages,
		},
		UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
	}
	got, err := ConvertStreamRecord(r, "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x", "us-east-1")
	require.NoError(t, err)

	// Through JSON, compared with the shape of aws-lambda-go's sample.
	b, err := json.Marshal(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{got}})
	require.NoError(t, err)
	var ev events.DynamoDBEvent
	require.NoError(t, json.Unmarshal(b, &ev))
	rec := ev.Records[0]
	require.Equal(t, "e-1", rec.EventID)
	require.Equal(t, "MODIFY", rec.EventName)
	require.Equal(t, "aws:dynamodb", rec.EventSource)
	require.Equal(t, "1.1", rec.EventVersion)
	require.Equal(t, "us-east-1", rec.AWSRegion)
	require.Equal(t, "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x", rec.EventSourceArn)
	require.Equal(t, "100", rec.Change.SequenceNumber)
	require.Equal(t, int64(42), rec.Change.SizeBytes)
	require.Equal(t, "NEW_AND_OLD_IMAGES", rec.Change.StreamViewType)
	require.Equal(t, at.Unix(), rec.Change.ApproximateCreationDateTime.Unix())
	require.Equal(t, "T#1", rec.Change.Keys["pk"].String())
	require.Equal(t, "2", rec.Change.NewImage["n"].Number())
	require.Equal(t, "1", rec.Change.OldImage["n"].Number())
	require.Equal(t, "Service", rec.UserIdentity.Type)

	var shape, sample map[string]any
	require.NoError(t, json.Unmarshal(b, &shape))
	sample = testdataShape(t, "dynamodb-event.json")
	gotRec := shape["Records"].([]any)[0].(map[string]any)
	wantRec := sample["Records"].([]any)[0].(map[string]any)
	for k := range wantRec {
		require.Contains(t, gotRec, k)
	}
	for k := range wantRec["dynamodb"].(map[string]any) {
		require.Contains(t, gotRec["dynamodb"].(map[string]any), k)
	}

	// A deletion has no new image: it stays absent.
	r.EventName = types.OperationTypeRemove
	r.Dynamodb.NewImage = nil
	got, err = ConvertStreamRecord(r, "arn", "")
	require.NoError(t, err)
	require.Nil(t, got.Change.NewImage)
	require.Equal(t, "ddblocal", got.AWSRegion, "the record's region when none is configured")
}

// fakeStreams scripts a stream: shards with records, iterators as
// "shard|index" tokens.
type fakeStreams struct {
	mu          sync.Mutex
	arn         string
	shards      []*fakeShard
	expireOnce  bool // the next GetRecords fails with ExpiredIteratorException
	getIterator []string
}

type fakeShard struct {
	id, parent string
	recs       []types.Record
	closed     bool
}

func (f *fakeStreams) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &dynamodb.DescribeTableOutput{Table: &ddbtypes.TableDescription{TableName: in.TableName, LatestStreamArn: aws.String(f.arn)}}, nil
}

// DescribeStream answers one shard per page, to exercise pagination.
func (f *fakeStreams) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := 0
	if in.ExclusiveStartShardId != nil {
		for j, s := range f.shards {
			if s.id == *in.ExclusiveStartShardId {
				i = j + 1
			}
		}
	}
	desc := &types.StreamDescription{StreamArn: in.StreamArn}
	if i < len(f.shards) {
		s := f.shards[i]
		sh := types.Shard{ShardId: aws.String(s.id)}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		desc.Shards = []types.Shard{sh}
		if i+1 < len(f.shards) {
			desc.LastEvaluatedShardId = aws.String(s.id)
		}
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: desc}, nil
}

func (f *fakeStreams) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (f *fakeStreams) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(*in.ShardId)
	f.getIterator = append(f.getIterator, fmt.Sprintf("%s %s %s", *in.ShardId, in.ShardIteratorType, aws.ToString(in.SequenceNumber)))
	idx := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		idx = -1
		for i, r := range s.recs {
			if *r.Dynamodb.SequenceNumber == *in.SequenceNumber {
				idx = i
			}
		}
		if idx < 0 {
			return nil, errors.New("no such sequence number")
		}
		if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
			idx++
		}
	default:
		return nil, errors.New("unsupported iterator type")
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s|%d", s.id, idx))}, nil
}

func (f *fakeStreams) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expireOnce {
		f.expireOnce = false
		return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
	}
	id, n, _ := strings.Cut(*in.ShardIterator, "|")
	idx, _ := strconv.Atoi(n)
	s := f.shard(id)
	end := min(idx+int(aws.ToInt32(in.Limit)), len(s.recs))
	out := &dynamodbstreams.GetRecordsOutput{Records: append([]types.Record(nil), s.recs[idx:end]...)}
	if !(s.closed && end == len(s.recs)) {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s|%d", id, end))
	}
	return out, nil
}

var seqCounter int64

// add appends n INSERT records with ids prefix-1..n to a shard.
func (s *fakeShard) add(prefix string, n int) {
	for i := 1; i <= n; i++ {
		seqCounter++
		seq := fmt.Sprintf("%021d", seqCounter)
		s.recs = append(s.recs, types.Record{
			EventID:   aws.String(fmt.Sprintf("%s-%d", prefix, i)),
			EventName: types.OperationTypeInsert,
			Dynamodb: &types.StreamRecord{
				Keys:           map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("%s-%d", prefix, i)}},
				SequenceNumber: aws.String(seq),
				StreamViewType: types.StreamViewTypeNewAndOldImages,
			},
		})
	}
}

// scriptedHandler records deliveries and fails as told.
type scriptedHandler struct {
	mu        sync.Mutex
	batches   [][]string     // event ids per call
	failItem  map[string]int // event id -> times to report it failed
	failBatch int            // calls to fail with an error
	unknownID bool           // report a failure for an id not in the batch
}

func (h *scriptedHandler) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, r := range ev.Records {
		ids = append(ids, r.EventID)
	}
	h.batches = append(h.batches, ids)
	if h.failBatch > 0 {
		h.failBatch--
		return events.DynamoDBEventResponse{}, errors.New("handler down")
	}
	if h.unknownID {
		h.unknownID = false
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "nope"}}}, nil
	}
	var resp events.DynamoDBEventResponse
	// Report failures out of order: the lowest sequence number must win.
	for i := len(ev.Records) - 1; i >= 0; i-- {
		r := ev.Records[i]
		if h.failItem[r.EventID] > 0 {
			h.failItem[r.EventID]--
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
		}
	}
	return resp, nil
}

func (h *scriptedHandler) take() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.batches
	h.batches = nil
	return b
}

func newFakePoller(t *testing.T, fs *fakeStreams, h *scriptedHandler, batch int) *StreamPoller {
	t.Helper()
	p, err := newStreamPoller(StreamConfig{
		Table: "laoyou", BatchSize: batch, Handler: h.handle,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Region: "us-east-1",
	}, fs, fs)
	require.NoError(t, err)
	return p
}

func TestStreamPollerDelivery(t *testing.T) {
	ctx := context.Background()
	type poll struct {
		wantN       int
		wantErr     bool
		wantBatches [][]string
	}
	tests := []struct {
		name  string
		setup func(fs *fakeStreams, h *scriptedHandler)
		batch int
		polls []poll
	}{
		{
			name:  "all records in order, in batches",
			setup: func(fs *fakeStreams, _ *scriptedHandler) { fs.shards[0].add("a", 5) },
			batch: 2,
			polls: []poll{
				{5, false, [][]string{{"a-1", "a-2"}, {"a-3", "a-4"}, {"a-5"}}},
				{0, false, nil},
			},
		},
		{
			name: "reported item failure: retry from the lowest failed record, keep what succeeded",
			setup: func(fs *fakeStreams, h *scriptedHandler) {
				fs.shards[0].add("a", 5)
				h.failItem = map[string]int{"a-3": 1, "a-4": 1}
			},
			batch: 10,
			polls: []poll{
				{2, true, [][]string{{"a-1", "a-2", "a-3", "a-4", "a-5"}}},
				{3, false, [][]string{{"a-3", "a-4", "a-5"}}},
				{0, false, nil},
			},
		},
		{
			name: "failure in a later batch keeps earlier batches",
			setup: func(fs *fakeStreams, h *scriptedHandler) {
				fs.shards[0].add("a", 4)
				h.failItem = map[string]int{"a-3": 2}
			},
			batch: 2,
			polls: []poll{
				{2, true, [][]string{{"a-1", "a-2"}, {"a-3", "a-4"}}},
				{0, true, [][]string{{"a-3", "a-4"}}},
				{2, false, [][]string{{"a-3", "a-4"}}},
			},
		},
		{
			name: "handler error retries the whole batch and never advances",
			setup: func(fs *fakeStreams, h *scriptedHandler) {
				fs.shards[0].add("a", 3)
				h.failBatch = 2
			},
			batch: 2,
			polls: []poll{
				{0, true, [][]string{{"a-1", "a-2"}}},
				{0, true, [][]string{{"a-1", "a-2"}}},
				{3, false, [][]string{{"a-1", "a-2"}, {"a-3"}}},
			},
		},
		{
			name: "unknown item identifier fails the whole batch",
			setup: func(fs *fakeStreams, h *scriptedHandler) {
				fs.shards[0].add("a", 2)
				h.unknownID = true
			},
			batch: 10,
			polls: []poll{
				{0, true, [][]string{{"a-1", "a-2"}}},
				{2, false, [][]string{{"a-1", "a-2"}}},
			},
		},
		{
			name: "parent shard is finished before its child",
			setup: func(fs *fakeStreams, _ *scriptedHandler) {
				child := &fakeShard{id: "s2", parent: "s1"}
				child.add("c", 2)
				fs.shards[0].add("p", 2)
				fs.shards[0].closed = true
				// The child is listed first: order must come from parentage.
				fs.shards = []*fakeShard{child, fs.shards[0]}
			},
			batch: 10,
			polls: []poll{
				{2, false, [][]string{{"p-1", "p-2"}}},
				{2, false, [][]string{{"c-1", "c-2"}}},
			},
		},
		{
			name: "a failing parent holds its child back",
			setup: func(fs *fakeStreams, h *scriptedHandler) {
				fs.shards[0].add("p", 1)
				fs.shards[0].closed = true
				child := &fakeShard{id: "s2", parent: "s1"}
				child.add("c", 1)
				fs.shards = append(fs.shards, child)
				h.failItem = map[string]int{"p-1": 1}
			},
			batch: 10,
			polls: []poll{
				{0, true, [][]string{{"p-1"}}},
				{1, false, [][]string{{"p-1"}}},
				{1, false, [][]string{{"c-1"}}},
			},
		},
		{
			name: "expired iterator is renewed",
			setup: func(fs *fakeStreams, _ *scriptedHandler) {
				fs.shards[0].add("a", 1)
				fs.expireOnce = true
			},
			batch: 10,
			polls: []poll{{1, false, [][]string{{"a-1"}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := &fakeStreams{arn: "arn:stream/1", shards: []*fakeShard{{id: "s1"}}}
			h := &scriptedHandler{}
			tc.setup(fs, h)
			p := newFakePoller(t, fs, h, tc.batch)
			for i, want := range tc.polls {
				n, err := p.PollOnce(ctx)
				if want.wantErr {
					require.Error(t, err, "poll %d", i)
				} else {
					require.NoError(t, err, "poll %d", i)
				}
				require.Equal(t, want.wantN, n, "poll %d", i)
				require.Equal(t, want.wantBatches, h.take(), "poll %d", i)
			}
		})
	}
}

func TestStreamPollerFollowsNewRecordsAndStreams(t *testing.T) {
	ctx := context.Background()
	fs := &fakeStreams{arn: "arn:stream/1", shards: []*fakeShard{{id: "s1"}}}
	fs.shards[0].add("a", 1)
	h := &scriptedHandler{}
	p := newFakePoller(t, fs, h, 10)

	n, err := p.PollOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	fs.mu.Lock()
	fs.shards[0].add("b", 2)
	fs.mu.Unlock()
	n, err = p.PollOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, [][]string{{"a-1"}, {"b-1", "b-2"}}, h.take())

	// The table was deleted and created again: a new stream, read from its start.
	fs.mu.Lock()
	fs.arn = "arn:stream/2"
	fs.shards = []*fakeShard{{id: "t1"}}
	fs.shards[0].add("c", 1)
	fs.mu.Unlock()
	n, err = p.PollOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, [][]string{{"c-1"}}, h.take())
}

func TestStreamPollerConcurrentPolls(t *testing.T) {
	fs := &fakeStreams{arn: "arn:stream/1", shards: []*fakeShard{{id: "s1"}}}
	fs.shards[0].add("a", 50)
	h := &scriptedHandler{}
	p := newFakePoller(t, fs, h, 3)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- p.Run(ctx) }()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = p.PollOnce(ctx)
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		n := 0
		for _, b := range h.batches {
			n += len(b)
		}
		return n == 50
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-runDone)

	seen := map[string]bool{}
	for _, b := range h.take() {
		for _, id := range b {
			require.False(t, seen[id], "delivered twice: %s", id)
			seen[id] = true
		}
	}
	require.Len(t, seen, 50)
}

func TestStreamPollerInvoke(t *testing.T) {
	fs := &fakeStreams{arn: "arn:stream/1", shards: []*fakeShard{{id: "s1"}}}
	fs.shards[0].add("a", 2)
	h := &scriptedHandler{}
	p := newFakePoller(t, fs, h, 10)

	out, err := p.Invoke(context.Background(), json.RawMessage(`{}`))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"records": 2}, out)
	require.Equal(t, [][]string{{"a-1", "a-2"}}, h.take())

	ev := `{"Records":[{"eventID":"x-1","eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{"pk":{"S":"k"}}}}]}`
	out, err = p.Invoke(context.Background(), json.RawMessage(ev))
	require.NoError(t, err)
	require.IsType(t, events.DynamoDBEventResponse{}, out)
	require.Equal(t, [][]string{{"x-1"}}, h.take())
}
