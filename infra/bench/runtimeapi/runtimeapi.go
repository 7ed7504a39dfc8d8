// Package runtimeapi is a fake of the AWS Lambda Runtime API: enough of it to
// run a function binary outside Lambda, see when its init ends, hand it
// invocations and record what it answers.
//
// A function built with aws-lambda-go finds the API through
// AWS_LAMBDA_RUNTIME_API. Its init ends with its first
// GET /2018-06-01/runtime/invocation/next, which is what cold-start figures
// measure; the fake records when that call arrives and holds it open until
// Invoke has an event to give. Responses, invocation errors and init errors
// are recorded as the real API would accept them.
package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The headers of the Runtime API that aws-lambda-go reads and writes.
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS  = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	// A response whose body failed while streaming reports the error in
	// trailers instead of on the /error route.
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// DefaultTimeout is the invocation deadline the fake gives when
// Options.Timeout is zero: the Timeout of the functions in template.yaml.
const DefaultTimeout = 10 * time.Second

// ErrClosed is returned by Invoke once the API is closed.
var ErrClosed = errors.New("runtimeapi: closed")

// Options configure an API.
type Options struct {
	// FunctionARN is sent with every invocation as the invoked function.
	FunctionARN string
	// Timeout sets each invocation's deadline (DefaultTimeout if zero).
	Timeout time.Duration
}

// API is one running fake Runtime API on a loopback port, for one function
// process (an execution environment).
type API struct {
	opts     Options
	listener net.Listener
	server   *http.Server
	closed   chan struct{}
	closeMu  sync.Once

	// queue carries invocations from Invoke to a waiting next call.
	queue chan *pending

	mu         sync.Mutex
	readyAt    time.Time
	ready      chan struct{}
	initErr    *FunctionError
	initFailed chan struct{}
	inFlight   map[string]*pending
	seq        int
}

// pending is an invocation handed out (or about to be) and not yet answered.
type pending struct {
	id      string
	payload []byte
	result  chan Result
}

// Result is what a function answered to one invocation.
type Result struct {
	RequestID string
	// Response is the body posted to .../response; nil when Error is set.
	Response []byte
	// Error is set when the function reported a failure.
	Error *FunctionError
}

// FunctionError is a failure a function reported, on the /error or
// init/error route or in a response's trailers.
type FunctionError struct {
	// Type is the Lambda-Runtime-Function-Error-Type header, or the
	// errorType of the body when the header is absent.
	Type string
	// Message is the body's errorMessage.
	Message string
	// Body is the raw body as posted.
	Body []byte
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Start listens on a free loopback port and serves the API until Close.
func Start(opts Options) (*API, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.FunctionARN == "" {
		opts.FunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:bench"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: %w", err)
	}
	a := &API{
		opts:       opts,
		listener:   l,
		closed:     make(chan struct{}),
		queue:      make(chan *pending),
		ready:      make(chan struct{}),
		initFailed: make(chan struct{}),
		inFlight:   map[string]*pending{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", a.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", a.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", a.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", a.initError)
	a.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.server.Serve(l) }()
	return a, nil
}

// Addr is the host:port to give the function as AWS_LAMBDA_RUNTIME_API.
func (a *API) Addr() string { return a.listener.Addr().String() }

// Env is the environment entry that points a function at this API.
func (a *API) Env() string { return "AWS_LAMBDA_RUNTIME_API=" + a.Addr() }

// Ready is closed when the function first asks for an invocation, which is
// the end of its init.
func (a *API) Ready() <-chan struct{} { return a.ready }

// ReadyAt is when the first next call arrived; zero before Ready is closed.
func (a *API) ReadyAt() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.readyAt
}

// InitFailed is closed when the function reports an init error.
func (a *API) InitFailed() <-chan struct{} { return a.initFailed }

// InitError is the init error the function reported, or nil.
func (a *API) InitError() *FunctionError {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.initErr
}

// Invoke gives payload to the function's next call and waits for its answer.
// A function error is returned in the Result, not as err; err is for the
// context ending or the API closing first.
func (a *API) Invoke(ctx context.Context, payload []byte) (Result, error) {
	a.mu.Lock()
	a.seq++
	p := &pending{
		id:      "bench-" + strconv.Itoa(a.seq),
		payload: payload,
		result:  make(chan Result, 1),
	}
	a.mu.Unlock()

	select {
	case a.queue <- p:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-a.closed:
		return Result{}, ErrClosed
	}
	select {
	case r := <-p.result:
		return r, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-a.closed:
		return Result{}, ErrClosed
	}
}

// Close stops the server and releases every call held open.
func (a *API) Close() error {
	var err error
	a.closeMu.Do(func() {
		close(a.closed)
		err = a.server.Close()
	})
	return err
}

func (a *API) next(w http.ResponseWriter, r *http.Request) {
	// The time is taken before anything else so that it is as close as
	// possible to the moment the function's init ended.
	now := time.Now()
	a.mu.Lock()
	if a.readyAt.IsZero() {
		a.readyAt = now
		close(a.ready)
	}
	a.mu.Unlock()

	var p *pending
	select {
	case p = <-a.queue:
	case <-r.Context().Done():
		return
	case <-a.closed:
		return
	}
	a.mu.Lock()
	a.inFlight[p.id] = p
	a.mu.Unlock()

	deadline := time.Now().Add(a.opts.Timeout)
	h := w.Header()
	h.Set(headerRequestID, p.id)
	h.Set(headerDeadlineMS, strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set(headerFunctionARN, a.opts.FunctionARN)
	h.Set(headerTraceID, "Root=1-00000000-000000000000000000000000;Sampled=0")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p.payload)
}

func (a *API) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestBody", err.Error())
		return
	}
	res := Result{RequestID: r.PathValue("id"), Response: body}
	// Trailers are only readable once the body has been read.
	if t := r.Trailer.Get(trailerErrorType); t != "" {
		res = Result{RequestID: res.RequestID, Error: &FunctionError{Type: t, Body: []byte(r.Trailer.Get(trailerErrorBody))}}
	}
	a.finish(w, res)
}

func (a *API) invocationError(w http.ResponseWriter, r *http.Request) {
	fe, err := readFunctionError(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestBody", err.Error())
		return
	}
	a.finish(w, Result{RequestID: r.PathValue("id"), Error: fe})
}

func (a *API) initError(w http.ResponseWriter, r *http.Request) {
	fe, err := readFunctionError(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestBody", err.Error())
		return
	}
	a.mu.Lock()
	first := a.initErr == nil
	if first {
		a.initErr = fe
		close(a.initFailed)
	}
	a.mu.Unlock()
	if !first {
		// Lambda accepts one init error per environment.
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "init error already reported")
		return
	}
	writeAccepted(w)
}

// finish hands an answer to the Invoke waiting for it.
func (a *API) finish(w http.ResponseWriter, res Result) {
	a.mu.Lock()
	p, ok := a.inFlight[res.RequestID]
	delete(a.inFlight, res.RequestID)
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight with id "+res.RequestID)
		return
	}
	p.result <- res
	writeAccepted(w)
}

func readFunctionError(r *http.Request) (*FunctionError, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	fe := &FunctionError{Type: r.Header.Get(headerErrorType), Body: body}
	var parsed struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	// The body's shape is the function's business; a body that is not the
	// usual JSON is still recorded as the error.
	if json.Unmarshal(body, &parsed) == nil {
		fe.Message = parsed.Message
		if fe.Type == "" {
			fe.Type = parsed.Type
		}
	}
	return fe, nil
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": errType, "errorMessage": msg})
}
