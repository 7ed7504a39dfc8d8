package apistack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// observe is the stack client's middleware: it serves capture (see
// CaptureCalls), the write log and the read log. It sits in the Initialize
// step, as the call counter does, so an SDK retry is one call.
func (s *Stack) observe(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("LaoyouBenchObserve",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := middleware.GetOperationName(ctx)
				if c, ok := ctx.Value(captureKey{}).(*Captured); ok {
					c.add(op, in.Parameters)
					if out := emptyWriteOutput(op); out != nil {
						return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, nil
					}
				}
				reading := s.Reads.on.Load() && askCapacity(in.Parameters)
				at := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				if s.Writes.on.Load() {
					s.Writes.add(at, op, in.Parameters, err == nil)
				}
				if reading && err == nil {
					s.Reads.add(op, in.Parameters, out.Result)
				}
				return out, md, err
			}), middleware.After)
	})
}

// ---- capture ----

type captureKey struct{}

// Call is one DynamoDB call as a handler would make it: its operation and
// its input (*dynamodb.GetItemInput, *dynamodb.TransactWriteItemsInput, ...).
type Call struct {
	Op    string
	Input any
}

// Captured holds the calls made under a capturing context.
type Captured struct {
	mu    sync.Mutex
	calls []Call
}

// Calls are the captured calls in the order they were made.
func (c *Captured) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

func (c *Captured) add(op string, in any) {
	c.mu.Lock()
	c.calls = append(c.calls, Call{Op: op, Input: in})
	c.mu.Unlock()
}

// CaptureCalls returns a context under which the stack's calls are recorded
// and writes are not sent: each is answered as if it had succeeded. Reads
// go through, so a handler decides on the real state. Running a request
// under it builds the calls it would make, exactly as it makes them, to be
// sent bare later with Send.
func CaptureCalls(ctx context.Context) (context.Context, *Captured) {
	c := &Captured{}
	return context.WithValue(ctx, captureKey{}, c), c
}

func emptyWriteOutput(op string) any {
	switch op {
	case "PutItem":
		return &dynamodb.PutItemOutput{}
	case "UpdateItem":
		return &dynamodb.UpdateItemOutput{}
	case "DeleteItem":
		return &dynamodb.DeleteItemOutput{}
	case "BatchWriteItem":
		return &dynamodb.BatchWriteItemOutput{}
	case "TransactWriteItems":
		return &dynamodb.TransactWriteItemsOutput{}
	}
	return nil
}

// Send makes a captured call with the stack's client.
func (s *Stack) Send(ctx context.Context, c Call) error {
	var err error
	switch in := c.Input.(type) {
	case *dynamodb.GetItemInput:
		_, err = s.Client.GetItem(ctx, in)
	case *dynamodb.QueryInput:
		_, err = s.Client.Query(ctx, in)
	case *dynamodb.PutItemInput:
		_, err = s.Client.PutItem(ctx, in)
	case *dynamodb.UpdateItemInput:
		_, err = s.Client.UpdateItem(ctx, in)
	case *dynamodb.DeleteItemInput:
		_, err = s.Client.DeleteItem(ctx, in)
	case *dynamodb.TransactWriteItemsInput:
		_, err = s.Client.TransactWriteItems(ctx, in)
	case *dynamodb.TransactGetItemsInput:
		_, err = s.Client.TransactGetItems(ctx, in)
	default:
		err = fmt.Errorf("apistack: cannot send %s (%T)", c.Op, c.Input)
	}
	return err
}

// ---- writes ----

// Write is one item a write call wrote, or checked in a transaction.
type Write struct {
	Call          int64     // the call's number in the log: a transaction's items share it
	At            time.Time // when the call was made
	Op            string    // PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems
	Action        string    // put, update, delete, or check (a ConditionCheck writes nothing)
	PK, SK        string
	Transactional bool
	OK            bool                            // the call succeeded; a refused write costs capacity too
	Item          map[string]types.AttributeValue // the item, for puts
}

// WriteLog records every item the stack's client writes while on.
type WriteLog struct {
	on     atomic.Bool
	mu     sync.Mutex
	calls  int64
	writes []Write
}

// Start clears the log and starts recording.
func (l *WriteLog) Start() {
	l.mu.Lock()
	l.calls, l.writes = 0, nil
	l.mu.Unlock()
	l.on.Store(true)
}

// Stop stops recording and returns what was recorded.
func (l *WriteLog) Stop() []Write {
	l.on.Store(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Write(nil), l.writes...)
}

func (l *WriteLog) add(at time.Time, op string, in any, ok bool) {
	var ws []Write
	put := func(item map[string]types.AttributeValue, tx bool) {
		ws = append(ws, Write{Op: op, Action: "put", PK: str(item["pk"]), SK: str(item["sk"]), Transactional: tx, Item: item})
	}
	keyed := func(action string, key map[string]types.AttributeValue, tx bool) {
		ws = append(ws, Write{Op: op, Action: action, PK: str(key["pk"]), SK: str(key["sk"]), Transactional: tx})
	}
	switch in := in.(type) {
	case *dynamodb.PutItemInput:
		put(in.Item, false)
	case *dynamodb.UpdateItemInput:
		keyed("update", in.Key, false)
	case *dynamodb.DeleteItemInput:
		keyed("delete", in.Key, false)
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				switch {
				case r.PutRequest != nil:
					put(r.PutRequest.Item, false)
				case r.DeleteRequest != nil:
					keyed("delete", r.DeleteRequest.Key, false)
				}
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				put(it.Put.Item, true)
			case it.Update != nil:
				keyed("update", it.Update.Key, true)
			case it.Delete != nil:
				keyed("delete", it.Delete.Key, true)
			case it.ConditionCheck != nil:
				keyed("check", it.ConditionCheck.Key, true)
			}
		}
	default:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	for i := range ws {
		ws[i].Call, ws[i].At, ws[i].OK = l.calls, at, ok
	}
	l.writes = append(l.writes, ws...)
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// ---- reads ----

// Read is what one read call returned.
type Read struct {
	Op       string
	Index    string  // the index a Query or Scan read, if any
	Items    int     // items returned
	Scanned  int     // items the call examined (ScannedCount; Items for GetItem)
	Capacity float64 // read capacity units DynamoDB reports having consumed
}

// ReadLog records every read call of the stack's client while on, asking
// DynamoDB for the capacity each consumed.
type ReadLog struct {
	on    atomic.Bool
	mu    sync.Mutex
	reads []Read
}

// Start clears the log and starts recording.
func (l *ReadLog) Start() {
	l.mu.Lock()
	l.reads = nil
	l.mu.Unlock()
	l.on.Store(true)
}

// Stop stops recording and returns what was recorded.
func (l *ReadLog) Stop() []Read {
	l.on.Store(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Read(nil), l.reads...)
}

// askCapacity asks a read call to report the capacity it consumed; it
// reports whether the call is a read.
func askCapacity(in any) bool {
	switch in := in.(type) {
	case *dynamodb.GetItemInput:
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	case *dynamodb.QueryInput:
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	case *dynamodb.ScanInput:
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	case *dynamodb.TransactGetItemsInput:
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	case *dynamodb.BatchGetItemInput:
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	default:
		return false
	}
	return true
}

func (l *ReadLog) add(op string, in, out any) {
	r := Read{Op: op}
	switch in := in.(type) {
	case *dynamodb.QueryInput:
		r.Index = aws.ToString(in.IndexName)
	case *dynamodb.ScanInput:
		r.Index = aws.ToString(in.IndexName)
	}
	capacity := func(cs ...types.ConsumedCapacity) {
		for _, c := range cs {
			r.Capacity += aws.ToFloat64(c.CapacityUnits)
		}
	}
	switch out := out.(type) {
	case *dynamodb.GetItemOutput:
		if out.Item != nil {
			r.Items, r.Scanned = 1, 1
		}
		if out.ConsumedCapacity != nil {
			capacity(*out.ConsumedCapacity)
		}
	case *dynamodb.QueryOutput:
		r.Items, r.Scanned = int(out.Count), int(out.ScannedCount)
		if out.ConsumedCapacity != nil {
			capacity(*out.ConsumedCapacity)
		}
	case *dynamodb.ScanOutput:
		r.Items, r.Scanned = int(out.Count), int(out.ScannedCount)
		if out.ConsumedCapacity != nil {
			capacity(*out.ConsumedCapacity)
		}
	case *dynamodb.TransactGetItemsOutput:
		for _, resp := range out.Responses {
			if resp.Item != nil {
				r.Items++
			}
		}
		r.Scanned = r.Items
		capacity(out.ConsumedCapacity...)
	case *dynamodb.BatchGetItemOutput:
		for _, items := range out.Responses {
			r.Items += len(items)
		}
		r.Scanned = r.Items
		capacity(out.ConsumedCapacity...)
	default:
		return
	}
	l.mu.Lock()
	l.reads = append(l.reads, r)
	l.mu.Unlock()
}
