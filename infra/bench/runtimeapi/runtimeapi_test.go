package runtimeapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/runtimeapi"
)

// echoBinary is testdata/echo, built once for the whole test process.
var echoBinary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "runtimeapi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	echoBinary = filepath.Join(dir, "echo")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", echoBinary, "./testdata/echo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building testdata/echo: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// startEcho runs the echo function against a fresh API until the test ends.
func startEcho(t *testing.T) *runtimeapi.API {
	t.Helper()
	api, err := runtimeapi.Start(runtimeapi.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, api.Close()) })

	cmd := exec.Command(echoBinary)
	cmd.Env = []string{api.Env(), "AWS_LAMBDA_FUNCTION_NAME=echo", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("echo output:\n%s", logs.String())
		}
	})
	return api
}

func TestInvokeRecordsWhatTheFunctionAnswers(t *testing.T) {
	t.Parallel()
	api := startEcho(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Invocations go one after another through the same process, as in a
	// warm execution environment.
	tests := []struct {
		name      string
		payload   string
		response  string
		errorType string
		errorMsg  string
	}{
		{name: "response", payload: `{"say":"ni hao"}`, response: `{"say":"ni hao"}`},
		{name: "second response", payload: `{"say":"zai jian"}`, response: `{"say":"zai jian"}`},
		{name: "handler error", payload: `{"fail":"no stock"}`, errorType: "errorString", errorMsg: "no stock"},
		{name: "undecodable event", payload: `[1,2]`, errorType: "UnmarshalTypeError"},
		{name: "answers after an error", payload: `{"say":"again"}`, response: `{"say":"again"}`},
	}
	for _, tt := range tests {
		res, err := api.Invoke(ctx, []byte(tt.payload))
		require.NoError(t, err, tt.name)
		require.NotEmpty(t, res.RequestID, tt.name)
		if tt.errorType == "" {
			require.Nil(t, res.Error, tt.name)
			require.JSONEq(t, tt.response, string(res.Response), tt.name)
			continue
		}
		require.NotNil(t, res.Error, tt.name)
		require.Equal(t, tt.errorType, res.Error.Type, tt.name)
		require.Nil(t, res.Response, tt.name)
		if tt.errorMsg != "" {
			require.Equal(t, tt.errorMsg, res.Error.Message, tt.name)
		}
	}

	select {
	case <-api.Ready():
	default:
		t.Fatal("Ready is still open after invocations were answered")
	}
	require.False(t, api.ReadyAt().IsZero())
	require.Nil(t, api.InitError())
}

func TestReadyMarksTheFirstNextCall(t *testing.T) {
	t.Parallel()
	api := startEcho(t)
	require.True(t, api.ReadyAt().IsZero() || isClosed(api.Ready()), "ReadyAt is set only with Ready")

	select {
	case <-api.Ready():
	case <-time.After(time.Minute):
		t.Fatal("the function never asked for an invocation")
	}
	first := api.ReadyAt()
	require.False(t, first.IsZero())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := api.Invoke(ctx, []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, first, api.ReadyAt(), "later next calls keep the first time")
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Calls the real API refuses are refused here too, so that a function that
// misuses the API fails in the bench as it would in Lambda.
func TestRefusesCallsTheRuntimeAPIRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		path   string
		status int
	}{
		{name: "response for no invocation", path: "/2018-06-01/runtime/invocation/nope/response", status: http.StatusBadRequest},
		{name: "error for no invocation", path: "/2018-06-01/runtime/invocation/nope/error", status: http.StatusBadRequest},
		{name: "next is a GET", path: "/2018-06-01/runtime/invocation/next", status: http.StatusMethodNotAllowed},
		{name: "unknown route", path: "/2018-06-01/runtime/restore/next", status: http.StatusNotFound},
	}
	api, err := runtimeapi.Start(runtimeapi.Options{})
	require.NoError(t, err)
	defer api.Close()
	for _, tt := range tests {
		require.Equal(t, tt.status, post(t, api, tt.path, nil, `{}`), tt.name)
	}
	require.False(t, isClosed(api.Ready()), "refused calls do not end init")
}

func TestInitErrorIsRecordedOnce(t *testing.T) {
	t.Parallel()
	api, err := runtimeapi.Start(runtimeapi.Options{})
	require.NoError(t, err)
	defer api.Close()

	header := http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.ConfigError"}}
	status := post(t, api, "/2018-06-01/runtime/init/error", header, `{"errorMessage":"TABLE_NAME missing","errorType":"ConfigError"}`)
	require.Equal(t, http.StatusAccepted, status)
	require.True(t, isClosed(api.InitFailed()))
	require.Equal(t, &runtimeapi.FunctionError{
		Type:    "Runtime.ConfigError",
		Message: "TABLE_NAME missing",
		Body:    []byte(`{"errorMessage":"TABLE_NAME missing","errorType":"ConfigError"}`),
	}, api.InitError())

	status = post(t, api, "/2018-06-01/runtime/init/error", nil, `{"errorMessage":"again"}`)
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "TABLE_NAME missing", api.InitError().Message, "the first report stands")
	require.False(t, isClosed(api.Ready()), "an init error is not the end of a successful init")
}

func TestCloseReleasesAHeldNextCall(t *testing.T) {
	t.Parallel()
	api, err := runtimeapi.Start(runtimeapi.Options{})
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + api.Addr() + "/2018-06-01/runtime/invocation/next")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-api.Ready()
	require.NoError(t, api.Close())
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("next call still held after Close")
	}

	_, err = api.Invoke(context.Background(), []byte(`{}`))
	require.ErrorIs(t, err, runtimeapi.ErrClosed)
}

func post(t *testing.T, api *runtimeapi.API, path string, header http.Header, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+api.Addr()+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode
}
