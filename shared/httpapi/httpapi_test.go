package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/logging"
)

type echoRequest struct {
	Name  string `json:"name"`
	Count *int   `json:"count"`
}

func (e *echoRequest) Valid() error {
	if e.Name == "" {
		return apierr.Missing("name")
	}
	if e.Count == nil {
		return apierr.Missing("count")
	}
	if *e.Count < 0 {
		return apierr.Invalid("count", "must not be negative")
	}
	return nil
}

func testAPI() *API {
	return New(logging.Discard(),
		Route{Key: "POST /echo", Access: AnyUserAccess(), Handle: func(ctx context.Context, r *Request) (Response, error) {
			var in echoRequest
			if err := Decode(r, &in); err != nil {
				return Response{}, err
			}
			return Created(map[string]any{"name": in.Name, "user": r.Caller.UserID}), nil
		}},
		Route{Key: "GET /public", Access: auth.Public, Handle: func(ctx context.Context, r *Request) (Response, error) {
			return OK(map[string]string{"tenant": r.Query("tenant")}), nil
		}},
		Route{Key: "GET /staff", Access: auth.StaffOnly, Handle: func(ctx context.Context, r *Request) (Response, error) {
			return OK(map[string]string{}), nil
		}},
		Route{Key: "GET /panic", Access: auth.Public, Handle: func(ctx context.Context, r *Request) (Response, error) {
			panic("boom")
		}},
		Route{Key: "GET /fail", Access: auth.Public, Handle: func(ctx context.Context, r *Request) (Response, error) {
			return Response{}, apierr.E(apierr.Op("test"), apierr.GroupFull, "the room is full")
		}},
	)
}

// AnyUserAccess keeps the table below readable.
func AnyUserAccess() auth.Access { return auth.AnyUser }

func event(routeKey, body string, claims map[string]string) events.APIGatewayV2HTTPRequest {
	method, path, _ := strings.Cut(routeKey, " ")
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: routeKey,
		RawPath:  path,
		Body:     body,
		Headers:  map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1",
			RouteKey:  routeKey,
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
		},
	}
	if claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	return ev
}

var patient = map[string]string{"sub": "u1", "tenant": "t1", "role": "patient"}

func TestHandleAnswersEveryFailureWithACode(t *testing.T) {
	tests := []struct {
		name     string
		ev       events.APIGatewayV2HTTPRequest
		status   int
		code     string
		contains string
	}{
		{"ok", event("POST /echo", `{"name":"a","count":1}`, patient), 201, "", ""},
		{"unknown route", event("$default", "", nil), 404, "NOT_FOUND", ""},
		{"malformed JSON", event("POST /echo", `{"name":`, patient), 400, "BAD_REQUEST", "malformed JSON"},
		{"not an object", event("POST /echo", `[1,2]`, patient), 400, "BAD_REQUEST", "JSON object"},
		{"wrong type", event("POST /echo", `{"name":5,"count":1}`, patient), 400, "BAD_REQUEST", `"name" must be a string`},
		{"wrong number type", event("POST /echo", `{"name":"a","count":"1"}`, patient), 400, "BAD_REQUEST", `"count" must be an integer`},
		{"fraction for integer", event("POST /echo", `{"name":"a","count":1.5}`, patient), 400, "BAD_REQUEST", `"count"`},
		{"missing field", event("POST /echo", `{"name":"a"}`, patient), 400, "BAD_REQUEST", `"count" is required`},
		{"unknown field", event("POST /echo", `{"name":"a","count":1,"x":1}`, patient), 400, "BAD_REQUEST", `unknown field "x"`},
		{"trailing data", event("POST /echo", `{"name":"a","count":1}{}`, patient), 400, "BAD_REQUEST", "after the JSON"},
		{"empty body", event("POST /echo", ``, patient), 400, "BAD_REQUEST", "required"},
		{"invalid value", event("POST /echo", `{"name":"a","count":-1}`, patient), 400, "BAD_REQUEST", "negative"},
		{"70 KiB body", event("POST /echo", `{"name":"`+strings.Repeat("a", 70<<10)+`","count":1}`, patient), 413, "PAYLOAD_TOO_LARGE", ""},
		{"no claims on a protected route", event("POST /echo", `{}`, nil), 401, "", ""},
		{"claims without a tenant", event("POST /echo", `{}`, map[string]string{"sub": "u1", "role": "patient"}), 403, "FORBIDDEN", ""},
		{"unknown role", event("POST /echo", `{}`, map[string]string{"sub": "u1", "tenant": "t", "role": "root"}), 403, "FORBIDDEN", ""},
		{"patient on a staff route", event("GET /staff", ``, patient), 403, "FORBIDDEN", ""},
		{"staff on a staff route", event("GET /staff", ``, map[string]string{"sub": "s", "tenant": "t", "role": "staff"}), 200, "", ""},
		{"domain error", event("GET /fail", ``, nil), 409, "GROUP_FULL", "the room is full"},
		{"panic", event("GET /panic", ``, nil), 500, "INTERNAL", ""},
	}
	api := testAPI()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := api.Handle(context.Background(), tt.ev)
			require.NoError(t, err, "the Lambda never fails: errors are responses")
			require.Equal(t, tt.status, resp.StatusCode, resp.Body)
			require.Contains(t, resp.Headers["content-type"], "application/json")
			if tt.status == 401 {
				require.JSONEq(t, `{"message":"Unauthorized"}`, resp.Body)
				return
			}
			if tt.code == "" {
				return
			}
			var body ErrorBody
			require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
			require.Equal(t, tt.code, body.Error.Code)
			require.Equal(t, "req-1", body.RequestID)
			require.NotEmpty(t, body.Error.Message)
			require.Contains(t, body.Error.Message, tt.contains)
			if tt.status == 500 {
				require.NotContains(t, resp.Body, "boom", "internal causes stay in the logs")
			}
		})
	}
}

func TestBase64BodiesAreDecoded(t *testing.T) {
	ev := event("POST /echo", base64.StdEncoding.EncodeToString([]byte(`{"name":"b","count":2}`)), patient)
	ev.IsBase64Encoded = true
	resp, err := testAPI().Handle(context.Background(), ev)
	require.NoError(t, err)
	require.Equal(t, 201, resp.StatusCode, resp.Body)
	require.JSONEq(t, `{"name":"b","user":"u1"}`, resp.Body)

	ev.Body = "%%%"
	resp, _ = testAPI().Handle(context.Background(), ev)
	require.Equal(t, 400, resp.StatusCode)
}

func TestEveryKindHasAStatus(t *testing.T) {
	for kind, status := range statusOf {
		require.GreaterOrEqual(t, status, 400, kind)
	}
	require.Equal(t, 500, StatusOf(context.Canceled), "an error without a kind is internal")
}
