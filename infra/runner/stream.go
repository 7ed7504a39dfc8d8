package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/google/uuid"
)

// StreamHandler is a Lambda handler for DynamoDB stream batches that reports
// partial failures (FunctionResponseTypes: ReportBatchItemFailures).
type StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamConfig configures a StreamPoller.
type StreamConfig struct {
	// Streams and DynamoDB are clients for the same endpoint (DynamoDB Local).
	Streams  *dynamodbstreams.Client
	DynamoDB *dynamodb.Client
	// Table whose stream is read.
	Table string
	// BatchSize is the most records per Handler call; default 100, Lambda's
	// default for DynamoDB event sources.
	BatchSize int
	// Handler receives the batches.
	Handler StreamHandler
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Interval between polls when the stream is idle or a poll failed;
	// default 500ms, so hook-driven work shows up within a second or so.
	Interval time.Duration
	// Timeout bounds each Handler call (its ctx deadline); default 5m.
	Timeout time.Duration
	// Region reported in records when the stream does not say; default the
	// Streams client's region.
	Region string
}

// The parts of the SDK clients the poller uses, so tests can script a
// stream without DynamoDB Local.
type streamsAPI interface {
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

type tableAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// StreamPoller is the local stand-in for Lambda's DynamoDB stream event
// source mapping: it reads every shard of a table's stream in order and
// hands the records to a handler in batches, with Lambda's delivery rules:
// at least once, in order per shard, parents before children, and never past
// a record that failed (a handler error retries the whole batch; reported
// BatchItemFailures retry from the lowest failed sequence number).
//
// Unlike Lambda it retries a failing record forever (there is no
// MaximumRetryAttempts nor on-failure destination locally), so a poison
// record blocks its shard and keeps showing up in the log, which is what a
// developer wants to notice.
type StreamPoller struct {
	cfg     StreamConfig
	streams streamsAPI
	table   tableAPI
	log     *slog.Logger

	mu        sync.Mutex // one poll at a time: Run and /_local/invoke/hooks share the checkpoints
	streamARN string
	shards    map[string]*shardState
	order     []string // shard ids in the order DescribeStream lists them
}

type shardState struct {
	id, parent string
	iterator   *string // nil: ask for one from the checkpoint
	lastSeq    string  // last record handled successfully
	retryAt    string  // first record to deliver again after a failure
	done       bool    // closed and read to its end
}

// Defaults of StreamConfig.
const (
	DefaultBatchSize      = 100
	DefaultStreamInterval = 500 * time.Millisecond
	DefaultStreamTimeout  = 5 * time.Minute
	maxPagesPerShard      = 50   // bounds one PollOnce on a busy shard
	getRecordsLimit       = 1000 // the API's maximum
)

// NewStreamPoller returns a poller for cfg.Table's latest stream.
func NewStreamPoller(cfg StreamConfig) (*StreamPoller, error) {
	if cfg.Streams == nil || cfg.DynamoDB == nil {
		return nil, errors.New("runner: stream poller needs Streams and DynamoDB clients")
	}
	p, err := newStreamPoller(cfg, cfg.Streams, cfg.DynamoDB)
	if err != nil {
		return nil, err
	}
	if p.cfg.Region == "" {
		p.cfg.Region = cfg.Streams.Options().Region
	}
	return p, nil
}

func newStreamPoller(cfg StreamConfig, streams streamsAPI, table tableAPI) (*StreamPoller, error) {
	if cfg.Table == "" || cfg.Handler == nil {
		return nil, errors.New("runner: stream poller needs Table and Handler")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultStreamInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultStreamTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &StreamPoller{
		cfg: cfg, streams: streams, table: table, log: cfg.Logger,
		shards: map[string]*shardState{},
	}, nil
}

// Run polls until ctx is done, then returns nil. Errors are logged and
// polling goes on; a poll that delivered records is followed by another at
// once, an idle or failed one by a pause of Interval.
func (p *StreamPoller) Run(ctx context.Context) error {
	for {
		n, err := p.PollOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.log.Warn("stream poll", "table", p.cfg.Table, "error", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.cfg.Interval):
		}
	}
}

// Invoke makes the poller usable as the "hooks" InvokeFunc of the runner:
// a payload with Records is handed to the Handler as is (as `sam local
// invoke -e event.json` would), anything else (such as {}) polls the stream
// now and answers {"records": n}.
func (p *StreamPoller) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload, &ev); err == nil && len(ev.Records) > 0 {
		var resp events.DynamoDBEventResponse
		err := safely(func() error {
			var herr error
			resp, herr = p.cfg.Handler(ctx, ev)
			return herr
		})
		return resp, err
	}
	n, err := p.PollOnce(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]int{"records": n}, nil
}

// PollOnce reads what is new in every shard and delivers it. It returns the
// number of records handled successfully, and an error when a call to
// DynamoDB failed or a batch failed (those records come again next time).
// It is safe to call concurrently with Run.
func (p *StreamPoller) PollOnce(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if err := p.refreshShards(ctx); err != nil {
		return 0, err
	}
	// Which shards are readable is decided once per poll, so a child is
	// read on the poll after its parent finished whatever the listing order.
	var ready []*shardState
	for _, id := range p.order {
		if sh := p.shards[id]; !sh.done && p.parentDone(sh) {
			ready = append(ready, sh)
		}
	}
	total := 0
	var errs []error
	for _, sh := range ready {
		n, err := p.pollShard(ctx, sh)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("shard %s: %w", sh.id, err))
		}
	}
	return total, errors.Join(errs...)
}

// parentDone: Lambda finishes a parent shard before reading its children,
// so the order of changes to one item is kept across a shard split.
func (p *StreamPoller) parentDone(sh *shardState) bool {
	if sh.parent == "" {
		return true
	}
	parent, known := p.shards[sh.parent]
	return !known || parent.done
}

// refreshShards finds the table's current stream and its shards. A new
// stream ARN (the table was deleted and created again) starts afresh.
func (p *StreamPoller) refreshShards(ctx context.Context) error {
	out, err := p.table.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.cfg.Table)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", p.cfg.Table, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" {
		return fmt.Errorf("table %s has no stream", p.cfg.Table)
	}
	if arn != p.streamARN {
		if p.streamARN != "" {
			p.log.Info("stream changed", "table", p.cfg.Table, "stream", arn)
		}
		p.streamARN = arn
		p.shards = map[string]*shardState{}
		p.order = nil
	}

	var listed []types.Shard
	var start *string
	for {
		ds, err := p.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{
			StreamArn:             aws.String(arn),
			ExclusiveStartShardId: start,
		})
		if err != nil {
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) {
				p.streamARN = "" // look it up again next time
			}
			return fmt.Errorf("describe stream: %w", err)
		}
		listed = append(listed, ds.StreamDescription.Shards...)
		start = ds.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}

	present := make(map[string]bool, len(listed))
	order := make([]string, 0, len(listed))
	for _, s := range listed {
		id := aws.ToString(s.ShardId)
		present[id] = true
		order = append(order, id)
		if _, ok := p.shards[id]; !ok {
			// New shards (all of them at first start, children later) are
			// read from TRIM_HORIZON, so nothing written before is lost.
			p.shards[id] = &shardState{id: id, parent: aws.ToString(s.ParentShardId)}
		}
	}
	// Shards trimmed away after 24 hours are forgotten; their children then
	// count as having a finished parent.
	for id := range p.shards {
		if !present[id] {
			delete(p.shards, id)
		}
	}
	p.order = order
	return nil
}

// position says where a shard resumes: at a failed record, after the last
// handled one, or at the oldest record kept.
func (sh *shardState) position() (types.ShardIteratorType, *string) {
	switch {
	case sh.retryAt != "":
		return types.ShardIteratorTypeAtSequenceNumber, aws.String(sh.retryAt)
	case sh.lastSeq != "":
		return types.ShardIteratorTypeAfterSequenceNumber, aws.String(sh.lastSeq)
	default:
		return types.ShardIteratorTypeTrimHorizon, nil
	}
}

func (p *StreamPoller) pollShard(ctx context.Context, sh *shardState) (int, error) {
	handled := 0
	for page := 0; page < maxPagesPerShard; page++ {
		if sh.iterator == nil {
			typ, seq := sh.position()
			it, err := p.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn:         aws.String(p.streamARN),
				ShardId:           aws.String(sh.id),
				ShardIteratorType: typ,
				SequenceNumber:    seq,
			})
			if err != nil {
				var trimmed *types.TrimmedDataAccessException
				if errors.As(err, &trimmed) {
					// What we were to resume at is gone; start at the oldest.
					sh.retryAt, sh.lastSeq = "", ""
				}
				return handled, fmt.Errorf("get shard iterator: %w", err)
			}
			sh.iterator = it.ShardIterator
			if sh.iterator == nil {
				sh.done = true
				return handled, nil
			}
		}
		out, err := p.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{
			ShardIterator: sh.iterator,
			Limit:         aws.Int32(getRecordsLimit),
		})
		if err != nil {
			var expired *types.ExpiredIteratorException
			var trimmed *types.TrimmedDataAccessException
			switch {
			case errors.As(err, &expired):
				sh.iterator = nil // iterators live 15 minutes; get a fresh one
				continue
			case errors.As(err, &trimmed):
				sh.iterator, sh.retryAt, sh.lastSeq = nil, "", ""
			}
			return handled, fmt.Errorf("get records: %w", err)
		}
		n, ok, err := p.deliver(ctx, sh, out.Records)
		handled += n
		if !ok {
			return handled, err // sh now resumes at the failed record
		}
		sh.iterator = out.NextShardIterator
		if sh.iterator == nil {
			sh.done = true // a closed shard read to its end
			return handled, nil
		}
		if len(out.Records) == 0 {
			return handled, nil // caught up
		}
	}
	return handled, nil
}

// deliver hands recs (one page of shard sh) to the handler in batches. On
// the first failure it sets sh to resume at the failed record and reports
// ok=false; records after it are not delivered.
func (p *StreamPoller) deliver(ctx context.Context, sh *shardState, recs []types.Record) (handled int, ok bool, err error) {
	fail := func(r types.Record, err error) (int, bool, error) {
		sh.retryAt = aws.ToString(r.Dynamodb.SequenceNumber)
		sh.iterator = nil
		return handled, false, err
	}
	for start := 0; start < len(recs); start += p.cfg.BatchSize {
		batch := recs[start:min(start+p.cfg.BatchSize, len(recs))]
		ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(batch))}
		for _, r := range batch {
			er, cerr := ConvertStreamRecord(r, p.streamARN, p.cfg.Region)
			if cerr != nil {
				return fail(batch[0], cerr)
			}
			ev.Records = append(ev.Records, er)
		}
		failed, herr := p.callHandler(ctx, ev)
		if herr != nil {
			return fail(batch[0], fmt.Errorf("batch of %d failed, will retry it: %w", len(batch), herr))
		}
		if failed >= 0 {
			handled += failed
			if failed > 0 {
				sh.lastSeq = aws.ToString(batch[failed-1].Dynamodb.SequenceNumber)
			}
			return fail(batch[failed], fmt.Errorf("record %s reported failed, will retry from it",
				aws.ToString(batch[failed].Dynamodb.SequenceNumber)))
		}
		handled += len(batch)
		sh.lastSeq = aws.ToString(batch[len(batch)-1].Dynamodb.SequenceNumber)
		sh.retryAt = ""
	}
	return handled, true, nil
}

// callHandler runs the handler and returns the index of the first failed
// record in the batch (-1 when all succeeded), reading BatchItemFailures as
// Lambda does: the lowest failed sequence number wins, and an identifier
// that is empty or not in the batch fails the whole batch.
func (p *StreamPoller) callHandler(ctx context.Context, ev events.DynamoDBEvent) (int, error) {
	hctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	hctx = lambdacontext.NewContext(hctx, &lambdacontext.LambdaContext{AwsRequestID: uuid.NewString()})
	var resp events.DynamoDBEventResponse
	err := safely(func() error {
		var herr error
		resp, herr = p.cfg.Handler(hctx, ev)
		return herr
	})
	if err != nil {
		return -1, err
	}
	first := -1
	for _, f := range resp.BatchItemFailures {
		idx := -1
		for i, r := range ev.Records {
			if r.Change.SequenceNumber == f.ItemIdentifier {
				idx = i
				break
			}
		}
		if idx < 0 {
			return -1, fmt.Errorf("batchItemFailures names unknown record %q", f.ItemIdentifier)
		}
		if first < 0 || idx < first {
			first = idx
		}
	}
	return first, nil
}
