package dynamo

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// Calls counts the DynamoDB calls made under one context: reads and writes
// apart, each API call once however often the SDK retried it. Tests and
// benchmarks use it to hold every route to its call budget.
type Calls struct {
	reads, writes atomic.Int64
	mu            sync.Mutex
	ops           []string
}

// Reads is the number of read calls (GetItem, Query, ...).
func (c *Calls) Reads() int { return int(c.reads.Load()) }

// Writes is the number of write calls (PutItem, TransactWriteItems, ...).
func (c *Calls) Writes() int { return int(c.writes.Load()) }

// Ops lists the operations in the order they were made.
func (c *Calls) Ops() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ops...)
}

type callsKey struct{}

// CountCalls returns a context under which DynamoDB calls are counted.
func CountCalls(ctx context.Context) (context.Context, *Calls) {
	c := &Calls{}
	return context.WithValue(ctx, callsKey{}, c), c
}

var readOps = map[string]bool{
	"GetItem": true, "Query": true, "Scan": true, "BatchGetItem": true, "TransactGetItems": true,
}

var writeOps = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
}

// WithCallCounting installs the counter. It sits in the Initialize step, so
// SDK retries of one call count once.
func WithCallCounting(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("LaoyouCallCount",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if c, ok := ctx.Value(callsKey{}).(*Calls); ok {
					op := middleware.GetOperationName(ctx)
					switch {
					case readOps[op]:
						c.reads.Add(1)
					case writeOps[op]:
						c.writes.Add(1)
					}
					c.mu.Lock()
					c.ops = append(c.ops, op)
					c.mu.Unlock()
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}
