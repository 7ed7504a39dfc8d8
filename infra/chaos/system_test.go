package chaos

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/runner"
	"github.com/laoyou/laoyou/shared/api"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/clock"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/logging"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/stream"
)

// invocationTimeout is the deadline each handler call gets, as Lambda
// gives one: an idempotency claim of a call that died lapses then.
const invocationTimeout = 2 * time.Second

// functionLog is where the functions log: nowhere, or with CHAOS_LOG=1 their
// errors to stderr (what a 5xx was, for one who debugs a run).
func functionLog() *slog.Logger {
	if os.Getenv("CHAOS_LOG") == "" {
		return logging.Discard()
	}
	return logging.New(os.Stderr, "ERROR")
}

// httpAPI is a function's HTTP handler with its routes.
type httpAPI interface {
	Handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	Routes() []httpapi.Route
}

// system is every Laoyou function in this process over one table, as
// infra/local wires them, on a DynamoDB client that may inject faults.
type system struct {
	endpoint, table string
	clean           *dynamodb.Client // no faults: setup, the stream, the checks
	deps            *app.Deps
	http            map[string]httpAPI // by function: referral, coupons, groupbuy, admin
	closer          func(context.Context, json.RawMessage) (stream.CloserResult, error)
	clock           *clock.Settable
	timeout         time.Duration // each invocation's deadline
}

// newSystem builds the functions over client (the one that may fail) and
// clean (the one that may not), both for endpoint.
func newSystem(endpoint, table string, client, clean *dynamodb.Client) *system {
	cfg := config.Config{
		Table:           table,
		Endpoint:        endpoint,
		Region:          clean.Options().Region,
		ShareBaseURL:    "https://h5.example.com/s",
		MiniProgramPage: "/pages/landing/index",
		PhonePepper:     "chaos-pepper",
	}
	c := clock.At(time.Now().UTC().Truncate(time.Second))
	// The functions' client has what dynamo.NewClient gives theirs in
	// Lambda, over whatever faults client injects.
	d := app.DepsWith(dynamodb.New(client.Options(), dynamo.FunctionOptions()...), cfg, functionLog())
	d.Now = c.Now
	sealKey := make([]byte, secret.KeySize) // tenants' WeChat secrets, sealed as the admin function seals them
	_, _ = rand.Read(sealKey)
	sealer, err := secret.NewAESGCM(sealKey)
	if err != nil {
		panic(err) // a key of KeySize bytes is always accepted
	}
	d.Secrets = sealer
	return &system{
		endpoint: endpoint, table: table, clean: clean, deps: d, clock: c, timeout: invocationTimeout,
		http: map[string]httpAPI{
			"referral": api.Referral(d),
			"coupons":  api.Coupons(d),
			"groupbuy": api.GroupBuy(d),
			"admin":    api.Admin(d),
		},
		closer: stream.Closer(d),
	}
}

// claims are a caller's verified token claims.
type claims map[string]string

func patientOf(tenant, user string) claims {
	return claims{"sub": user, "tenant": tenant, "role": "patient", "name": "张" + user}
}

func staffOf(tenant, user string) claims {
	return claims{"sub": user, "tenant": tenant, "role": "staff"}
}

func adminOf(tenant string) claims { return claims{"sub": "boss", "tenant": tenant, "role": "admin"} }

// request is one API call as a client means it.
type request struct {
	fn     string
	route  string // "POST /v1/groups/{groupId}/join"
	params map[string]string
	body   string
	as     claims // nil: no token
}

// event is the request as API Gateway hands it to the function.
func (r request) event(idempotencyKey string) events.APIGatewayV2HTTPRequest {
	method, path, _ := strings.Cut(r.route, " ")
	for k, v := range r.params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	headers := map[string]string{"content-type": "application/json"}
	if idempotencyKey != "" {
		headers["idempotency-key"] = idempotencyKey
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: r.route, RawPath: path, Headers: headers,
		PathParameters: r.params, Body: r.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: r.route, RequestID: uuid.NewString(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "198.51.100.7"},
		},
	}
	if r.as != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: r.as},
		}
	}
	return ev
}

// invoke runs one request in its function, within an invocation deadline.
func (s *system) invoke(ctx context.Context, r request, idempotencyKey string) events.APIGatewayV2HTTPResponse {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.http[r.fn].Handle(ctx, r.event(idempotencyKey))
	if err != nil {
		// The HTTP layer answers every failure itself; an error here is a
		// bug, shown to the client as API Gateway would: a 502.
		return events.APIGatewayV2HTTPResponse{StatusCode: 502, Body: `{"message":"Internal Server Error"}`}
	}
	return resp
}

// hooksConsumer is one reader of the table's stream feeding a hooks
// function, as the event source mapping feeds one in AWS.
type hooksConsumer struct {
	poller *runner.StreamPoller
}

// newHooksConsumer builds a hooks function on d and a poller of the
// table's stream for it.
func (s *system) newHooksConsumer(t testing.TB, d *app.Deps) *hooksConsumer {
	t.Helper()
	p, err := runner.NewStreamPoller(runner.StreamConfig{
		Streams:   ddblocal.NewStreamsClient(s.endpoint, s.clean.Options().Region),
		DynamoDB:  s.clean,
		Table:     s.table,
		BatchSize: 50, // template.yaml's is 500: smaller here, so a run's events span many batches
		Handler:   stream.Hooks(d),
		Logger:    logging.Discard(),
		Timeout:   10 * time.Second,
	})
	require.NoError(t, err)
	return &hooksConsumer{poller: p}
}

// drain delivers the stream until a poll finds nothing new and nothing
// failed, or polls run out; it reports whether the stream went quiet.
func (h *hooksConsumer) drain(ctx context.Context, polls int) bool {
	for range polls {
		n, err := h.poller.PollOnce(ctx)
		if err == nil && n == 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
	return false
}
