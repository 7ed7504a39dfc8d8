// Package chaos makes DynamoDB misbehave on purpose, for the tests and
// benchmarks that prove Laoyou keeps its invariants anyway. DynamoDB Local
// never throttles, never cancels a transaction for a conflict and never
// loses a reply, so Faults injects those failures into the SDK client;
// Check then reads a table and reports every broken invariant of docs/DESIGN.md.
//
// Nothing here is ever linked into a Lambda function.
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind is a kind of injected fault.
type Kind string

const (
	// Throttle fails the attempt before it reaches DynamoDB with
	// ProvisionedThroughputExceededException or ThrottlingException, which
	// the SDK retries.
	Throttle Kind = "throttle"
	// Conflict cancels a TransactWriteItems before it reaches DynamoDB with
	// TransactionCanceledException whose reasons say TransactionConflict,
	// which the SDK does not retry.
	Conflict Kind = "conflict"
	// Timeout fails the attempt with a transport timeout before the request
	// is sent; the SDK retries it.
	Timeout Kind = "timeout"
	// CommittedReset sends the write, which commits, then reports the
	// connection reset before the reply: the SDK sends it again.
	CommittedReset Kind = "committed-reset"
	// CommittedTimeout sends the write, which commits, then reports that the
	// caller's deadline passed before the reply, as when a Lambda times out
	// after its write: the error reaches the caller.
	CommittedTimeout Kind = "committed-timeout"
)

// Kinds lists every kind, in the order reports show them.
var Kinds = []Kind{Throttle, Conflict, Timeout, CommittedReset, CommittedTimeout}

// Rates are the share (0 to 1) of attempts failed with each kind. Conflict
// applies to TransactWriteItems only, the committed kinds to writes only.
type Rates struct {
	Throttle, Conflict, Timeout, CommittedReset, CommittedTimeout float64
}

// Scaled returns the rates times f.
func (r Rates) Scaled(f float64) Rates {
	return Rates{r.Throttle * f, r.Conflict * f, r.Timeout * f, r.CommittedReset * f, r.CommittedTimeout * f}
}

// Stats are the faults of one Faults so far, by kind.
type Stats struct {
	// Attempts is how many attempts (SDK retries included) passed through.
	Attempts int64
	// Injected counts the attempts failed on purpose.
	Injected map[Kind]int64
	// Surfaced counts the calls whose last attempt failed on purpose, so
	// the error reached Laoyou's code after the SDK's retries.
	Surfaced map[Kind]int64
}

// Total adds up counts by kind.
func Total(m map[Kind]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Faults injects faults into a DynamoDB client's calls at Rates, drawn from
// a seeded generator. Under concurrency the sequence of draws is fixed by
// the seed but which call meets which draw is up to the scheduler, so runs
// with one seed inject about the same faults, not the same ones.
//
// It is safe for concurrent use; Option installs it on a client.
type Faults struct {
	mu    sync.Mutex
	rng   *rand.Rand
	rates Rates
	only  map[string]bool // the operations faults apply to; nil: all data operations
	limit int64           // the most faults to inject; 0: no limit

	attempts atomic.Int64
	injected [5]atomic.Int64 // by index in Kinds
	surfaced [5]atomic.Int64
}

// New returns Faults drawing from seed.
func New(seed uint64, rates Rates) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), rates: rates}
}

// Only limits the faults to the named operations ("PutItem",
// "TransactWriteItems", ...), to aim at one step of a request.
func (f *Faults) Only(ops ...string) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.only = map[string]bool{}
	for _, op := range ops {
		f.only[op] = true
	}
	return f
}

// AtMost stops the faults after n injected, e.g. one lost reply and then
// the SDK's retry goes through.
func (f *Faults) AtMost(n int64) *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit = n
	return f
}

// SetRates changes the rates from now on, e.g. to 0 for a calm phase.
func (f *Faults) SetRates(r Rates) {
	f.mu.Lock()
	f.rates = r
	f.mu.Unlock()
}

// Stats returns the counts so far.
func (f *Faults) Stats() Stats {
	s := Stats{Attempts: f.attempts.Load(), Injected: map[Kind]int64{}, Surfaced: map[Kind]int64{}}
	for i, k := range Kinds {
		s.Injected[k] = f.injected[i].Load()
		s.Surfaced[k] = f.surfaced[i].Load()
	}
	return s
}

func kindIndex(k Kind) int {
	for i, x := range Kinds {
		if x == k {
			return i
		}
	}
	panic("chaos: unknown kind " + string(k))
}

// Operations DynamoDB serves from a table's data, the ones faults apply to
// (not table management, which tests do before they start).
var (
	dataReads = map[string]bool{
		"GetItem": true, "Query": true, "Scan": true, "BatchGetItem": true, "TransactGetItems": true,
	}
	dataWrites = map[string]bool{
		"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
	}
)

// draw picks the fault of one attempt at op, or "".
func (f *Faults) draw(op string) (Kind, float64) {
	write := dataWrites[op]
	if !write && !dataReads[op] {
		return "", 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.only != nil && !f.only[op] {
		return "", 0
	}
	if f.limit > 0 && Total(f.Stats().Injected) >= f.limit {
		return "", 0
	}
	u, pick := f.rng.Float64(), f.rng.Float64()
	r := f.rates
	for _, c := range []struct {
		kind Kind
		rate float64
		ok   bool
	}{
		{Throttle, r.Throttle, true},
		{Conflict, r.Conflict, op == "TransactWriteItems"},
		{Timeout, r.Timeout, true},
		{CommittedReset, r.CommittedReset, write},
		{CommittedTimeout, r.CommittedTimeout, write},
	} {
		if !c.ok {
			continue
		}
		if u < c.rate {
			return c.kind, pick
		}
		u -= c.rate
	}
	return "", 0
}

// call is one API call's state across its SDK attempts.
type call struct {
	transactItems int
	last          Kind // the fault of the latest attempt, "" if none
}

type callKey struct{}

// Option installs the faults on a client: a func(*dynamodb.Options) for
// dynamodb.New, ddblocal.NewClient or ddbtest's NewClient. Each SDK attempt
// may fail, so the SDK's retryer sees the faults as it would see
// DynamoDB's; see FastRetries for a retryer that keeps tests quick.
func (f *Faults) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ChaosCall", f.handleCall), middleware.Before); err != nil {
			return err
		}
		// After the retry middleware, so every attempt meets the dice.
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("ChaosAttempt", f.handleAttempt), "Retry", middleware.After)
	})
}

func (f *Faults) handleCall(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	c := &call{}
	if tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
		c.transactItems = len(tx.TransactItems)
	}
	out, md, err := next.HandleInitialize(context.WithValue(ctx, callKey{}, c), in)
	if err != nil && c.last != "" {
		f.surfaced[kindIndex(c.last)].Add(1)
	}
	return out, md, err
}

func (f *Faults) handleAttempt(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	f.attempts.Add(1)
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		c = &call{}
	}
	op := middleware.GetOperationName(ctx)
	kind, pick := f.draw(op)
	c.last = ""
	var fault error
	switch kind {
	case "":
		return next.HandleFinalize(ctx, in)
	case Throttle:
		if pick < 0.5 {
			fault = &types.ProvisionedThroughputExceededException{Message: aws.String("chaos: the level of configured provisioned throughput for the table was exceeded")}
		} else {
			fault = &types.ThrottlingException{Message: aws.String("chaos: throughput exceeds the current throughput limit for your account")}
		}
	case Conflict:
		fault = transactionConflict(c.transactItems, pick)
	case Timeout:
		fault = &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}}
	case CommittedReset, CommittedTimeout:
		out, md, err := next.HandleFinalize(ctx, in)
		if err != nil {
			return out, md, err // it failed on its own: nothing committed, nothing to lose
		}
		fault = &aws.RequestCanceledError{Err: fmt.Errorf("chaos: reply lost after the write committed: %w", context.DeadlineExceeded)}
		if kind == CommittedReset {
			fault = &smithyhttp.RequestSendError{Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
		}
	}
	c.last = kind
	f.injected[kindIndex(kind)].Add(1)
	return middleware.FinalizeOutput{}, middleware.Metadata{}, fault
}

// transactionConflict is what DynamoDB answers when another transaction
// held one of the items: a reason per item, TransactionConflict on one.
func transactionConflict(items int, pick float64) error {
	items = max(items, 1)
	reasons := make([]types.CancellationReason, items)
	at := int(pick * float64(items))
	for i := range reasons {
		reasons[i] = types.CancellationReason{Code: aws.String("None")}
		if i == at {
			reasons[i] = types.CancellationReason{
				Code:    aws.String("TransactionConflict"),
				Message: aws.String("Transaction is ongoing for the item"),
			}
		}
	}
	return &types.TransactionCanceledException{
		Message:             aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]"),
		CancellationReasons: reasons,
	}
}

// FastRetries is the SDK's standard retryer (the same errors retried, at
// most attempts attempts, no client-side retry quota) with pauses of a few
// milliseconds instead of up to seconds, so that a test with thousands of
// injected throttles does not sleep for minutes. Fewer attempts let more
// faults through to Laoyou's code.
func FastRetries(attempts int) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.RateLimiter = ratelimit.None
			so.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
				return time.Duration(attempt) * time.Duration(2+rand.IntN(8)) * time.Millisecond, nil
			})
		})
		o.RetryMaxAttempts = 0
	}
}
