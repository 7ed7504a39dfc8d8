// Package httpapi is the API Gateway (HTTP API, payload 2.0) layer every
// Laoyou function shares: routes listed in one table, the caller taken from
// the authorizer's claims, JSON decoding with limits, idempotency, error
// codes mapped to statuses in one place, and one access log line a request.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/idempotency"
)

// MaxBody is the largest request body a handler accepts (docs/API.md: 64 KiB).
const MaxBody = 64 << 10

// Request is what a handler sees of one API call.
type Request struct {
	Event     *events.APIGatewayV2HTTPRequest
	Caller    auth.Caller // zero on public routes
	RequestID string
	Body      []byte // decoded from base64 where API Gateway encoded it
}

// PathParam returns a path parameter, e.g. "groupId".
func (r *Request) PathParam(name string) string { return r.Event.PathParameters[name] }

// Query returns a query-string parameter.
func (r *Request) Query(name string) string { return r.Event.QueryStringParameters[name] }

// Response is a handler's successful answer, encoded as JSON.
type Response struct {
	Status int
	Body   any
	// Headers are added to the answer's, e.g. a cache-control that lets a
	// public document be cached (the default is no-store).
	Headers map[string]string
	// Bytes, when set, is the body instead of Body's JSON: an image, sent
	// base64-encoded as API Gateway wants binary bodies, of ContentType.
	Bytes       []byte
	ContentType string
}

// OK is a 200 response.
func OK(body any) Response { return Response{Status: http.StatusOK, Body: body} }

// Created is a 201 response.
func Created(body any) Response { return Response{Status: http.StatusCreated, Body: body} }

// NoContent is a 204 response, with no body.
func NoContent() Response { return Response{Status: http.StatusNoContent} }

// HandlerFunc handles one route.
type HandlerFunc func(ctx context.Context, r *Request) (Response, error)

// Route binds a route key, as API Gateway names it ("POST /v1/groups"), to
// who may call it and its handler.
type Route struct {
	Key    string
	Access auth.Access
	Handle HandlerFunc
}

// API serves a function's routes.
type API struct {
	routes map[string]Route
	log    *slog.Logger
}

// New builds an API over routes. A POST or PUT route's write stores its
// Idempotency-Key record (its handler answers through Answering, its
// domain calls idempotency.Prepare before its commit), so a keyed request
// costs no extra call. A route listed twice is a wiring bug: New panics.
func New(log *slog.Logger, routes ...Route) *API {
	a := &API{routes: make(map[string]Route, len(routes)), log: log}
	for _, r := range routes {
		if _, dup := a.routes[r.Key]; dup {
			panic("httpapi: route listed twice: " + r.Key)
		}
		a.routes[r.Key] = r
	}
	return a
}

// Routes lists the routes this API serves.
func (a *API) Routes() []Route {
	out := make([]Route, 0, len(a.routes))
	for _, r := range a.routes {
		out = append(out, r)
	}
	return out
}

// Handle is the Lambda handler.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, _ error) {
	start := time.Now()
	reqID := ev.RequestContext.RequestID
	routeKey := ev.RouteKey
	if routeKey == "" {
		routeKey = ev.RequestContext.RouteKey
	}
	var failure error
	defer func() {
		// A panic is a bug; the client still gets the API's error shape.
		if p := recover(); p != nil {
			failure = apierr.E(apierr.Op("httpapi.Handle"), apierr.Internal, fmt.Errorf("panic: %v", p))
			resp = errorResponse(reqID, failure)
		}
		a.logRequest(ctx, reqID, routeKey, resp.StatusCode, failure, time.Since(start))
	}()
	resp, failure = a.serve(ctx, &ev, routeKey, reqID)
	return resp, nil
}

func (a *API) serve(ctx context.Context, ev *events.APIGatewayV2HTTPRequest, routeKey, reqID string) (events.APIGatewayV2HTTPResponse, error) {
	const op = apierr.Op("httpapi.serve")
	route, ok := a.routes[routeKey]
	if !ok {
		err := apierr.Errorf(op, apierr.NotFound, "no route %s %s", ev.RequestContext.HTTP.Method, ev.RawPath)
		return errorResponse(reqID, err), err
	}
	req := &Request{Event: ev, RequestID: reqID}
	if route.Access != auth.Public {
		claims := map[string]string(nil)
		if ev.RequestContext.Authorizer != nil && ev.RequestContext.Authorizer.JWT != nil {
			claims = ev.RequestContext.Authorizer.JWT.Claims
		}
		if claims == nil {
			// API Gateway answers this before any function runs; kept for a
			// route deployed without its authorizer.
			return unauthorized(), apierr.E(op, apierr.Unauthorized, "no verified token")
		}
		caller, err := auth.FromClaims(claims)
		if err != nil {
			return errorResponse(reqID, err), err
		}
		if !caller.Allows(route.Access) {
			err := apierr.E(op, apierr.Forbidden, "this route is not open to your role")
			return errorResponse(reqID, err), err
		}
		req.Caller = caller
	}
	body, err := requestBody(ev)
	if err != nil {
		return errorResponse(reqID, err), err
	}
	req.Body = body

	method := ev.RequestContext.HTTP.Method
	key := header(ev.Headers, "idempotency-key")
	if key != "" && (method == http.MethodPost || method == http.MethodPut) {
		return a.serveOnce(ctx, route, req, key)
	}
	return a.call(ctx, route, req)
}

// serveOnce runs a POST or PUT that carries an Idempotency-Key.
func (a *API) serveOnce(ctx context.Context, route Route, req *Request, key string) (events.APIGatewayV2HTTPResponse, error) {
	const op = apierr.Op("httpapi.serveOnce")
	if !idempotency.ValidKey(key) {
		err := apierr.E(op, apierr.BadRequest, "Idempotency-Key must be 1 to 255 characters")
		return errorResponse(req.RequestID, err), err
	}
	who := req.Caller.UserID
	if route.Access == auth.Public {
		who = "public:" + req.Event.RequestContext.HTTP.SourceIP
	}
	scope := idempotency.Scope(req.Caller.Tenant, who, key)
	hash := idempotency.PayloadHash(route.Key, req.Event.RawPath, string(req.Body))
	// The record is written with the route's write; a retry's write is
	// cancelled on it and comes back as the stored answer. An answer that
	// needed no write is simply given again.
	resp, failure := a.call(idempotency.WithPending(ctx, idempotency.NewPending(scope, hash)), route, req)
	if replay, ok := idempotency.ReplayOf(failure); ok {
		return replayed(req.RequestID, replay.Stored, hash)
	}
	return resp, failure
}

// replayed answers a request whose key is recorded: the stored answer, byte
// for byte, unless the key was used for another request.
func replayed(reqID string, stored idempotency.Record, payloadHash string) (events.APIGatewayV2HTTPResponse, error) {
	const op = apierr.Op("httpapi.replay")
	if stored.PayloadHash != payloadHash {
		err := apierr.E(op, apierr.IdempotencyKeyReused, "this Idempotency-Key was used for a different request")
		return errorResponse(reqID, err), err
	}
	resp := jsonResponse(stored.ResponseStatus, stored.ResponseBody)
	if stored.ResponseStatus == http.StatusNoContent {
		delete(resp.Headers, "content-type")
	}
	resp.Headers["idempotent-replayed"] = "true"
	return resp, nil
}

// Answering tells a keyed request's write how the route answers its
// domain's result: respond is the same function the handler answers with,
// and the answer is encoded as call encodes it, so the stored answer is the
// client's byte for byte. It does nothing for a request without a pending
// idempotency record.
func Answering[T any](ctx context.Context, respond func(T) Response) context.Context {
	if idempotency.PendingOf(ctx) == nil {
		return ctx
	}
	return idempotency.WithResponder(ctx, func(result any) (int, []byte, error) {
		t, ok := result.(T)
		if !ok {
			return 0, nil, fmt.Errorf("httpapi: the route answers %T, not %T", *new(T), result)
		}
		return encode(respond(t))
	})
}

// encode is a JSON response's status and body; a 204 has none.
func encode(out Response) (int, []byte, error) {
	if out.Status == http.StatusNoContent {
		return out.Status, nil, nil
	}
	body, err := json.Marshal(out.Body)
	if err != nil {
		return 0, nil, apierr.E(apierr.Op("httpapi.encode"), apierr.Internal, err)
	}
	return statusOr200(out), body, nil
}

// statusOr200 is a response's status; a handler that names none answers 200.
func statusOr200(out Response) int {
	if out.Status == 0 {
		return http.StatusOK
	}
	return out.Status
}

func (a *API) call(ctx context.Context, route Route, req *Request) (events.APIGatewayV2HTTPResponse, error) {
	out, err := route.Handle(ctx, req)
	if err != nil {
		return errorResponse(req.RequestID, err), err
	}
	if out.Bytes != nil {
		return binaryResponse(out), nil
	}
	if out.Status == http.StatusNoContent {
		return events.APIGatewayV2HTTPResponse{StatusCode: out.Status, Headers: map[string]string{"cache-control": "no-store"}}, nil
	}
	status, body, err := encode(out)
	if err != nil {
		return errorResponse(req.RequestID, err), err
	}
	resp := jsonResponse(status, string(body))
	for k, v := range out.Headers {
		resp.Headers[strings.ToLower(k)] = v
	}
	return resp, nil
}

func (a *API) logRequest(ctx context.Context, reqID, route string, status int, err error, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("requestId", reqID),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("latencyMs", float64(took.Microseconds())/1000),
	}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, slog.String("code", string(apierr.KindOf(err))))
		if status >= 500 {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", err.Error()))
		}
	}
	a.log.LogAttrs(ctx, level, "request", attrs...)
}

// statusOf is the one place error kinds become HTTP statuses.
var statusOf = map[apierr.Kind]int{
	apierr.BadRequest:           http.StatusBadRequest,
	apierr.NotFound:             http.StatusNotFound,
	apierr.Unauthorized:         http.StatusUnauthorized,
	apierr.Forbidden:            http.StatusForbidden,
	apierr.PayloadTooLarge:      http.StatusRequestEntityTooLarge,
	apierr.IdempotencyKeyReused: http.StatusUnprocessableEntity,
	apierr.RequestInProgress:    http.StatusConflict,
	apierr.Internal:             http.StatusInternalServerError,
	apierr.Unavailable:          http.StatusServiceUnavailable,

	apierr.CodeNotFound:        http.StatusNotFound,
	apierr.SelfReferral:        http.StatusUnprocessableEntity,
	apierr.AlreadyBound:        http.StatusConflict,
	apierr.NotANewPatient:      http.StatusUnprocessableEntity,
	apierr.ReferrerNotEligible: http.StatusUnprocessableEntity,
	apierr.VisitNotFound:       http.StatusNotFound,
	apierr.SelfVisit:           http.StatusUnprocessableEntity,

	apierr.TemplateNotFound: http.StatusNotFound,
	apierr.NotClaimable:     http.StatusUnprocessableEntity,
	apierr.OutOfStock:       http.StatusConflict,
	apierr.LimitReached:     http.StatusConflict,
	apierr.AlreadyRedeemed:  http.StatusConflict,
	apierr.CouponExpired:    http.StatusGone,
	apierr.CouponNotActive:  http.StatusConflict,
	apierr.CouponNotFound:   http.StatusNotFound,

	apierr.DealNotFound:  http.StatusNotFound,
	apierr.DealNotActive: http.StatusConflict,
	apierr.SoldOut:       http.StatusConflict,
	apierr.GroupNotFound: http.StatusNotFound,
	apierr.GroupFull:     http.StatusConflict,
	apierr.GroupClosed:   http.StatusConflict,
	apierr.AlreadyMember: http.StatusConflict,

	apierr.WeChatCodeInvalid:   http.StatusUnprocessableEntity,
	apierr.WeChatUserBlocked:   http.StatusForbidden,
	apierr.WeChatNotConfigured: http.StatusNotFound,
	apierr.WeChatUnavailable:   http.StatusServiceUnavailable,
}

// StatusOf maps an error to its HTTP status.
func StatusOf(err error) int {
	if s, ok := statusOf[apierr.KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the API's error shape.
type ErrorBody struct {
	Error     ErrorDetail `json:"error"`
	RequestID string      `json:"requestId"`
}

// ErrorDetail is the code and message of an error.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorResponse(reqID string, err error) events.APIGatewayV2HTTPResponse {
	kind := apierr.KindOf(err)
	if kind == apierr.Unauthorized {
		return unauthorized()
	}
	status := StatusOf(err)
	msg := apierr.Message(err)
	if status >= 500 || msg == "" {
		// Internal causes stay in the logs.
		msg = http.StatusText(status)
	}
	b, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: string(kind), Message: msg}, RequestID: reqID})
	return jsonResponse(status, string(b))
}

// unauthorized is exactly what API Gateway's JWT authorizer answers.
func unauthorized() events.APIGatewayV2HTTPResponse {
	return jsonResponse(http.StatusUnauthorized, `{"message":"Unauthorized"}`)
}

// binaryResponse is a handler's bytes as API Gateway sends binary bodies.
func binaryResponse(out Response) events.APIGatewayV2HTTPResponse {
	status := statusOr200(out)
	headers := map[string]string{"content-type": out.ContentType, "cache-control": "no-store"}
	for k, v := range out.Headers {
		headers[strings.ToLower(k)] = v
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status, Headers: headers, IsBase64Encoded: true,
		Body: base64.StdEncoding.EncodeToString(out.Bytes),
	}
}

func jsonResponse(status int, body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers: map[string]string{
			"content-type":  "application/json; charset=utf-8",
			"cache-control": "no-store",
		},
		Body: body,
	}
}

func requestBody(ev *events.APIGatewayV2HTTPRequest) ([]byte, error) {
	const op = apierr.Op("httpapi.requestBody")
	raw := ev.Body
	if len(raw) > base64.StdEncoding.EncodedLen(MaxBody) {
		return nil, apierr.E(op, apierr.PayloadTooLarge, "the request body is larger than 64 KiB")
	}
	body := []byte(raw)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, apierr.E(op, apierr.BadRequest, "the request body is not valid base64")
		}
		body = b
	}
	if len(body) > MaxBody {
		return nil, apierr.E(op, apierr.PayloadTooLarge, "the request body is larger than 64 KiB")
	}
	return body, nil
}

// header looks a header up by lower-case name; API Gateway lower-cases them,
// a hand-made event may not.
func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
