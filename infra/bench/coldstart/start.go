package coldstart

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/laoyou/laoyou/infra/bench/runtimeapi"
)

// InitTimeout bounds one start: a function that has not asked for an
// invocation by then is reported as failing, not waited for.
const InitTimeout = 30 * time.Second

// MemorySize is what the functions get in template.yaml, given to the
// process as Lambda would.
const MemorySize = 256

// Start is one cold start of a binary.
type Start struct {
	// Init is the time from just before the process was started to the
	// arrival of its first call for an invocation.
	Init time.Duration
	// DynamoDBConnections counts connections the process opened to
	// DYNAMODB_ENDPOINT before it was stopped; init should make none.
	DynamoDBConnections int
}

// StartOnce starts binary as a fresh Lambda execution environment named
// name, against its own fake Runtime API, waits for the end of its init and
// stops it.
func StartOnce(ctx context.Context, binary, name string) (Start, error) {
	s, _, err := start(ctx, binary, name, nil, 4<<10)
	return s, err
}

// start is StartOnce with extra environment, returning the last
// outputLimit bytes of the process's output too.
func start(ctx context.Context, binary, name string, extraEnv []string, outputLimit int) (Start, string, error) {
	api, err := runtimeapi.Start(runtimeapi.Options{
		FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:" + name,
	})
	if err != nil {
		return Start{}, "", err
	}
	defer api.Close()
	dynamo, err := listenTripwire()
	if err != nil {
		return Start{}, "", err
	}
	defer dynamo.Close()

	output := &tail{max: outputLimit}
	cmd := exec.Command(binary)
	cmd.Dir = filepath.Dir(binary)
	cmd.Env = append(lambdaEnv(name, api.Addr(), dynamo.URL(), cmd.Dir), extraEnv...)
	cmd.Stdout, cmd.Stderr = output, output

	ctx, cancel := context.WithTimeout(ctx, InitTimeout)
	defer cancel()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return Start{}, "", fmt.Errorf("coldstart: starting %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	select {
	case <-api.Ready():
		took := api.ReadyAt().Sub(started)
		stop()
		return Start{Init: took, DynamoDBConnections: dynamo.Count()}, output.String(), nil
	case <-api.InitFailed():
		stop()
		return Start{}, "", fmt.Errorf("coldstart: %s reported an init error: %w\n%s", name, api.InitError(), output)
	case err := <-exited:
		if err == nil {
			err = errors.New("exit status 0")
		}
		return Start{}, "", fmt.Errorf("coldstart: %s exited before asking for an invocation: %w\n%s", name, err, output)
	case <-ctx.Done():
		stop()
		return Start{}, "", fmt.Errorf("coldstart: %s did not finish init: %w\n%s", name, ctx.Err(), output)
	}
}

// lambdaEnv is the environment Lambda gives a provided.al2023 function,
// with the variables template.yaml sets for every function.
func lambdaEnv(name, runtimeAPI, dynamoEndpoint, taskRoot string) []string {
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"_HANDLER=bootstrap",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", MemorySize),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]00000000000000000000000000000000",
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		// Lambda hands the execution role's temporary credentials over in
		// the environment; these are dummies that nothing accepts.
		"AWS_ACCESS_KEY_ID=ASIABENCHDUMMYKEY000",
		"AWS_SECRET_ACCESS_KEY=bench-dummy-secret-not-valid-anywhere",
		"AWS_SESSION_TOKEN=bench-dummy-session-token",
		// template.yaml's Globals.
		"TABLE_NAME=laoyou-bench",
		"SHARE_BASE_URL=https://h5.example.com/s",
		"MINI_PROGRAM_PAGE=/pages/landing/index",
		"PHONE_PEPPER=bench-pepper",
		"LOG_LEVEL=INFO",
		"STAGE=bench",
		// Not set in AWS: it sends any DynamoDB call made during init to a
		// loopback listener that counts it, instead of to AWS.
		"DYNAMODB_ENDPOINT=" + dynamoEndpoint,
	}
}

// tripwire is a loopback listener that counts and drops every connection.
type tripwire struct {
	l     net.Listener
	count atomic.Int64
	done  chan struct{}
}

func listenTripwire() (*tripwire, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("coldstart: %w", err)
	}
	t := &tripwire{l: l, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.count.Add(1)
			_ = c.Close()
		}
	}()
	return t, nil
}

func (t *tripwire) URL() string { return "http://" + t.l.Addr().String() }

func (t *tripwire) Count() int { return int(t.count.Load()) }

func (t *tripwire) Close() {
	_ = t.l.Close()
	<-t.done
}

// tail keeps the last max bytes of a process's output for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
