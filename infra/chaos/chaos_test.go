package chaos

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

func itemKey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: "_"},
	}
}

func put(db *ddbtest.DB, pk string) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{TableName: aws.String(db.Table), Item: itemKey(pk)}
}

func transactPut(db *ddbtest.DB, pks ...string) *dynamodb.TransactWriteItemsInput {
	in := &dynamodb.TransactWriteItemsInput{}
	for _, pk := range pks {
		in.TransactItems = append(in.TransactItems, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(db.Table), Item: itemKey(pk),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}})
	}
	return in
}

func exists(t *testing.T, db *ddbtest.DB, pk string) bool {
	t.Helper()
	out, err := db.Client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(db.Table), Key: itemKey(pk), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	return out.Item != nil
}

func TestFaults(t *testing.T) {
	t.Parallel()
	db := ddbtest.New(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		rates    Rates
		attempts int // SDK attempts per call
		call     func(c *dynamodb.Client, pk string) error
		check    func(t *testing.T, err error)
		written  bool  // the write committed despite the error
		injected int64 // attempts failed
		surfaced int64 // calls that failed
		kind     Kind
	}{
		{
			name: "throttle is retried by the SDK, then surfaces", rates: Rates{Throttle: 1}, attempts: 3,
			call: func(c *dynamodb.Client, pk string) error { _, err := c.PutItem(ctx, put(db, pk)); return err },
			check: func(t *testing.T, err error) {
				var api smithy.APIError
				require.ErrorAs(t, err, &api)
				require.Contains(t, []string{"ProvisionedThroughputExceededException", "ThrottlingException"}, api.ErrorCode())
				var max *retry.MaxAttemptsError
				require.ErrorAs(t, err, &max, "retried")
			},
			injected: 3, surfaced: 1, kind: Throttle,
		},
		{
			name: "conflict cancels a transaction, item by item", rates: Rates{Conflict: 1}, attempts: 3,
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.TransactWriteItems(ctx, transactPut(db, pk, pk+"-2", pk+"-3"))
				return err
			},
			check: func(t *testing.T, err error) {
				var tce *types.TransactionCanceledException
				require.ErrorAs(t, err, &tce)
				require.Len(t, tce.CancellationReasons, 3, "a reason per item")
				conflicts := 0
				for _, r := range tce.CancellationReasons {
					if aws.ToString(r.Code) == "TransactionConflict" {
						conflicts++
					} else {
						require.Equal(t, "None", aws.ToString(r.Code))
					}
				}
				require.Equal(t, 1, conflicts)
			},
			injected: 1, surfaced: 1, kind: Conflict,
		},
		{
			name: "conflict spares single-item writes", rates: Rates{Conflict: 1}, attempts: 3,
			call:    func(c *dynamodb.Client, pk string) error { _, err := c.PutItem(ctx, put(db, pk)); return err },
			check:   func(t *testing.T, err error) { require.NoError(t, err) },
			written: true,
		},
		{
			name: "timeout never reaches DynamoDB", rates: Rates{Timeout: 1}, attempts: 2,
			call: func(c *dynamodb.Client, pk string) error { _, err := c.PutItem(ctx, put(db, pk)); return err },
			check: func(t *testing.T, err error) {
				var timeout interface{ Timeout() bool }
				require.ErrorAs(t, err, &timeout)
				require.True(t, timeout.Timeout())
			},
			injected: 2, surfaced: 1, kind: Timeout,
		},
		{
			name: "committed reset: written, the SDK sends it again", rates: Rates{CommittedReset: 1}, attempts: 2,
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.TransactWriteItems(ctx, transactPut(db, pk))
				return err
			},
			check:   func(t *testing.T, err error) { require.ErrorContains(t, err, "connection reset") },
			written: true, injected: 2, surfaced: 1, kind: CommittedReset,
		},
		{
			name: "committed timeout: written, the caller gets the error", rates: Rates{CommittedTimeout: 1}, attempts: 3,
			call: func(c *dynamodb.Client, pk string) error { _, err := c.PutItem(ctx, put(db, pk)); return err },
			check: func(t *testing.T, err error) {
				require.ErrorIs(t, err, context.DeadlineExceeded)
				var max *retry.MaxAttemptsError
				require.False(t, errors.As(err, &max), "not retried")
			},
			written: true, injected: 1, surfaced: 1, kind: CommittedTimeout,
		},
		{
			name: "committed faults spare reads", rates: Rates{CommittedReset: 1, CommittedTimeout: 1}, attempts: 3,
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(db.Table), Key: itemKey(pk)})
				return err
			},
			check: func(t *testing.T, err error) { require.NoError(t, err) },
		},
		{
			name: "a call that fails on its own is passed through", rates: Rates{CommittedTimeout: 1}, attempts: 1,
			call: func(c *dynamodb.Client, pk string) error {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(db.Table), Item: itemKey(pk), ConditionExpression: aws.String("attribute_exists(pk)")})
				return err
			},
			check: func(t *testing.T, err error) {
				var ccf *types.ConditionalCheckFailedException
				require.ErrorAs(t, err, &ccf)
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(1, tt.rates)
			client := db.NewClient(t, f.Option, FastRetries(tt.attempts))
			pk := "CHAOS#" + strconv.Itoa(i)
			err := tt.call(client, pk)
			tt.check(t, err)
			require.Equal(t, tt.written, exists(t, db, pk))
			s := f.Stats()
			require.Equal(t, tt.injected, Total(s.Injected))
			require.Equal(t, tt.surfaced, Total(s.Surfaced))
			if tt.kind != "" {
				require.Equal(t, tt.injected, s.Injected[tt.kind])
				require.Equal(t, tt.surfaced, s.Surfaced[tt.kind])
			}
		})
	}
}

func TestFaultsAreSeeded(t *testing.T) {
	t.Parallel()
	db := ddbtest.New(t)
	rates := Rates{Throttle: 0.1, Conflict: 0.1, Timeout: 0.1, CommittedReset: 0.1, CommittedTimeout: 0.1}
	run := func(seed uint64, tag string) Stats {
		f := New(seed, rates)
		client := db.NewClient(t, f.Option, FastRetries(1))
		for i := range 60 {
			_, _ = client.TransactWriteItems(context.Background(), transactPut(db, "SEEDED#"+tag+"#"+strconv.Itoa(i)))
		}
		return f.Stats()
	}
	a, b := run(7, "a"), run(7, "b")
	require.Equal(t, a.Injected, b.Injected, "one seed, one sequence of faults")
	require.Equal(t, int64(60), a.Attempts)
	for _, k := range Kinds {
		require.Positive(t, a.Injected[k], "every kind drawn at 10%%: %s", k)
	}
	off := New(7, rates)
	off.SetRates(Rates{})
	client := db.NewClient(t, off.Option)
	_, err := client.PutItem(context.Background(), put(db, "CALM"))
	require.NoError(t, err)
	require.Zero(t, Total(off.Stats().Injected))
}
