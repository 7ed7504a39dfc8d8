package dynamo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
)

// A call that DynamoDB refuses for being busy, or that never reaches it,
// fails as Unavailable (503) once the SDK's retries are spent; a refused
// condition or a bad request keeps its own error.
func TestUnavailableErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		errorType   string
		unavailable bool
	}{
		{"throttled by the table", 400, "ProvisionedThroughputExceededException", true},
		{"throttled by the account", 400, "ThrottlingException", true},
		{"too many requests", 400, "RequestLimitExceeded", true},
		{"DynamoDB's own failure", 500, "InternalServerError", true},
		{"a 500 naming no DynamoDB error", 500, "InternalFailure", true},
		{"an overloaded server's 503", 503, "ServiceBusy", true},
		{"a refused condition", 400, "ConditionalCheckFailedException", false},
		{"a bad request", 400, "ValidationException", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#` + tt.errorType + `","message":"test"}`))
			}))
			defer srv.Close()
			err := writeTo(t, srv.URL, 2)
			require.Error(t, err)
			require.Equal(t, tt.unavailable, apierr.Is(apierr.Unavailable, err), "%v", err)
			if !tt.unavailable {
				require.Equal(t, apierr.Internal, apierr.KindOf(err))
			}
			if tt.errorType == "ConditionalCheckFailedException" {
				var ccf *types.ConditionalCheckFailedException
				require.True(t, errors.As(err, &ccf), "the cause stays readable")
			}
			if tt.unavailable && tt.status != 500 {
				require.Equal(t, 2, calls, "after the SDK's retries")
			}
		})
	}

	t.Run("nothing listening", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		err := writeTo(t, url, 1)
		require.True(t, apierr.Is(apierr.Unavailable, err), "%v", err)
	})
}

// writeTo makes a conditional write, a call whose answer may be any of
// the above: the SDK decodes only the errors an operation may answer into
// their types, and a refused condition answers only a write.
func writeTo(t *testing.T, endpoint string, attempts int) error {
	t.Helper()
	client := dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: attempts,
	}, WithUnavailableErrors)
	_, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String("t"), Item: key{PK: "p", SK: "s"}.av(),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	return err
}

// A transaction cancelled only by conflicting transactions, again and
// again, has done nothing: once its tries are spent it fails as
// Unavailable (503, the client's retry is safe), not as an internal error.
// A cancellation where a condition failed is the caller's to read.
func TestTransactionConflictsOutlastingRetriesAreUnavailable(t *testing.T) {
	tests := []struct {
		name        string
		reason      string
		unavailable bool
	}{
		{"conflicts only", "TransactionConflict", true},
		{"a condition failed", "ConditionalCheckFailed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(400)
				_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
					`"message":"Transaction cancelled","CancellationReasons":[{"Code":"` + tt.reason + `"}]}`))
			}))
			defer srv.Close()
			client := dynamodb.New(dynamodb.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), RetryMaxAttempts: 1,
			}, WithUnavailableErrors)
			s := NewStore(client, "t")
			put, err := s.putIf(key{PK: "p", SK: "s"}, notExists())
			require.NoError(t, err)
			cancelled, err := s.transact(context.Background(), tx{parts: []part{{"item", put}}})
			if !tt.unavailable {
				require.NoError(t, err)
				require.True(t, cancelled.by("item").ConditionFailed())
				require.Equal(t, 1, calls)
				return
			}
			require.True(t, apierr.Is(apierr.Unavailable, err), "%v", err)
			var tce *types.TransactionCanceledException
			require.True(t, errors.As(err, &tce), "the cause stays readable")
			require.Equal(t, 4, calls, "sent again three times first")
		})
	}
}

// A transaction whose time runs out between its tries after conflicts has
// written nothing: it fails as Unavailable (503), not as the bare context
// error (500).
func TestTransactionOutOfTimeBetweenTriesIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	client := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://dynamodb.invalid"),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), RetryMaxAttempts: 1,
		// The reply is whole before the context ends, so the end is met
		// between tries, never in the middle of one.
		HTTPClient: answerThenCancel(func() { calls++; cancel() }),
	}, WithUnavailableErrors)
	s := NewStore(client, "t")
	put, err := s.putIf(key{PK: "p", SK: "s"}, notExists())
	require.NoError(t, err)
	_, err = s.transact(ctx, tx{}.with("item", put))
	require.True(t, apierr.Is(apierr.Unavailable, err), "%v", err)
	require.ErrorIs(t, err, context.Canceled, "the cause stays readable")
	require.Equal(t, 1, calls)
}

// answerThenCancel answers every request with a transaction cancelled by
// a conflict, calling after once the answer is made.
type answerThenCancel func()

func (after answerThenCancel) Do(*http.Request) (*http.Response, error) {
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
		`"message":"Transaction cancelled","CancellationReasons":[{"Code":"TransactionConflict"}]}`
	after()
	return &http.Response{
		StatusCode: 400, Status: "400 Bad Request",
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	}, nil
}
