package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"
)

// The bodies API Gateway itself answers with, byte for byte.
const (
	msgUnauthorized  = `{"message":"Unauthorized"}`
	msgNotFound      = `{"message":"Not Found"}`
	msgTooLarge      = `{"message":"Request Entity Too Large"}`
	msgInternalError = `{"message":"Internal Server Error"}`
)

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &statusWriter{ResponseWriter: rw}
	requestID := uuid.NewString()
	// API Gateway tags every answer with its request id; clients and the
	// error bodies below can quote it.
	w.Header().Set("Apigw-Requestid", requestID)

	routeKey := s.serveRequest(w, r, requestID, start)

	// Never headers, bodies or tokens: only what identifies the route.
	s.log.Info("request",
		"method", r.Method,
		"routeKey", routeKey,
		"status", w.status,
		"latency", time.Since(start),
		"requestId", requestID)
}

// serveRequest answers r and returns the route key for the access log.
func (s *Server) serveRequest(w http.ResponseWriter, r *http.Request, requestID string, start time.Time) string {
	if isLocalPath(r.URL.Path) {
		return s.serveLocal(w, r, requestID)
	}
	if page := s.page(r.URL.Path); page != nil {
		page.ServeHTTP(w, r)
		return "page"
	}
	rt, params := s.table.find(r.Method, r.URL.EscapedPath())
	if rt == nil {
		writeRaw(w, http.StatusNotFound, msgNotFound)
		return "-"
	}
	body, err := readBody(r)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			writeRaw(w, http.StatusRequestEntityTooLarge, msgTooLarge)
		} else {
			// The client went away mid-body; nobody reads this answer.
			writeRaw(w, http.StatusBadRequest, `{"message":"Bad Request"}`)
		}
		return rt.key
	}
	var claims map[string]string
	if !rt.Public {
		// The authorizer runs before the function; a failure never reaches it.
		claims, err = s.cfg.Auth.Verify(r.Header.Get("Authorization"))
		if err != nil {
			s.log.Debug("unauthorized", "routeKey", rt.key, "requestId", requestID, "reason", err)
			writeRaw(w, http.StatusUnauthorized, msgUnauthorized)
			return rt.key
		}
	}
	ev := s.buildEvent(r, rt, params, body, claims, requestID, start)
	resp, err := s.callHTTP(r.Context(), rt, ev)
	if err == nil {
		if err = writeResponse(w, resp); err == nil {
			return rt.key
		}
	}
	s.log.Error("function failed", append([]any{"function", rt.Function, "routeKey", rt.key, "requestId", requestID}, errAttrs(err)...)...)
	writeRaw(w, http.StatusInternalServerError, msgInternalError)
	return rt.key
}

// callHTTP runs the route's handler as Lambda would: with a Lambda context,
// a deadline, and a panic turned into an error instead of a dead process.
func (s *Server) callHTTP(parent context.Context, rt *route, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	// A client that hangs up does not cancel a Lambda invocation in AWS.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), s.cfg.Timeout)
	defer cancel()
	ctx = s.lambdaContext(ctx, rt.Function)
	err = safely(func() error {
		var herr error
		resp, herr = s.cfg.HTTP[rt.Function](ctx, ev)
		return herr
	})
	return resp, err
}

func (s *Server) lambdaContext(ctx context.Context, function string) context.Context {
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       uuid.NewString(),
		InvokedFunctionArn: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.region, AccountID, function),
	})
}

// panicError is a recovered panic; the stack goes to the log, not to
// clients.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// safely runs fn, turning a panic into a *panicError, as the Lambda runtime
// turns one into a failed invocation instead of a dead process.
func safely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return fn()
}

// errAttrs are the log attributes of a failed call: the error, and the
// stack when it was a panic.
func errAttrs(err error) []any {
	attrs := []any{"error", err.Error()}
	var pe *panicError
	if errors.As(err, &pe) {
		attrs = append(attrs, "stack", string(pe.stack))
	}
	return attrs
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func isLocalPath(p string) bool { return p == "/_local" || strings.HasPrefix(p, "/_local/") }

// page is the static page serving path, or nil.
func (s *Server) page(path string) http.Handler {
	for prefix, h := range s.cfg.Pages {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return h
		}
	}
	return nil
}
