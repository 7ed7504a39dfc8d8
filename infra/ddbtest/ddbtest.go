// Package ddbtest gives storage tests a real DynamoDB table: a fresh table,
// created from template.yaml, in DynamoDB Local.
//
// If DYNAMODB_ENDPOINT is set (`make test` starts one DynamoDB Local for all
// packages and exports it), tests use that endpoint. Otherwise the first call
// to New in a test process starts DynamoDB Local in memory on a free port and
// every later test in the process reuses it. Each New creates its own
// uniquely named table, so tests (parallel ones included) never see each
// other's data, and deletes it when the test ends.
//
// A package using it should end the process-owned DynamoDB Local with
//
//	func TestMain(m *testing.M) { ddbtest.Main(m) }
//
// (on Linux the JVM also dies with the test process if that is forgotten).
package ddbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/samtemplate"
)

// EndpointEnv names the environment variable that points tests at an
// already running DynamoDB.
const EndpointEnv = "DYNAMODB_ENDPOINT"

// DB is one test's table.
type DB struct {
	Endpoint string           // the DynamoDB endpoint, e.g. http://127.0.0.1:41234
	Table    string           // the table's name, unique to this test
	Client   *dynamodb.Client // a client for Endpoint (see ddblocal.NewClient)
}

// shared is the process-wide state: one endpoint, one parsed template.
var shared struct {
	once     sync.Once
	endpoint string
	tmpl     *samtemplate.Template
	inst     *ddblocal.Instance // nil when DYNAMODB_ENDPOINT was used
	err      error
}

func setup() {
	path, err := samtemplate.FindPath()
	if err == nil {
		shared.tmpl, err = samtemplate.Load(path)
	}
	if err != nil {
		shared.err = fmt.Errorf("ddbtest: reading template.yaml: %w", err)
		return
	}
	if ep := os.Getenv(EndpointEnv); ep != "" {
		shared.endpoint = ep
		return
	}
	// Install (first time only) and JVM start; generous because a cold
	// machine running many test packages at once is slow.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inst, err := ddblocal.Start(ctx, ddblocal.Options{})
	if errors.Is(err, ddblocal.ErrJavaNotFound) {
		shared.err = fmt.Errorf("ddbtest: storage tests run against DynamoDB Local, which needs Java 17+ on PATH "+
			"(e.g. apt-get install openjdk-17-jre-headless), or set %s to a running DynamoDB: %w", EndpointEnv, err)
		return
	}
	if err != nil {
		shared.err = fmt.Errorf("ddbtest: starting DynamoDB Local (or set %s): %w", EndpointEnv, err)
		return
	}
	shared.inst, shared.endpoint = inst, inst.Endpoint
}

// Endpoint returns the DynamoDB endpoint tests in this process use, starting
// DynamoDB Local if needed. It fails the test if there is none.
func Endpoint(t testing.TB) string {
	t.Helper()
	shared.once.Do(setup)
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.endpoint
}

// Template returns the parsed template.yaml.
func Template(t testing.TB) *samtemplate.Template {
	t.Helper()
	Endpoint(t)
	return shared.tmpl
}

// Option changes the table New creates.
type Option func(*options)

type options struct {
	noStream bool
}

// WithoutStream creates the table without the template's stream, for a test
// that never reads the stream (nothing but a stream reader can tell the
// difference: items, keys, indexes and TTL are the template's).
//
// DynamoDB Local keeps every stream record it ever wrote, deleted tables'
// included, for 24 hours, and every request to it (whatever the table) gets
// slower as they pile up. A test that writes thousands of items and reads
// no stream should use this, so it does not slow down every test after it
// that shares the DynamoDB Local. A stream reader on such a table fails
// ("table ... has no stream"), so using it by mistake cannot go unnoticed.
func WithoutStream() Option { return func(o *options) { o.noStream = true } }

// New creates a fresh table, shaped like the template's Table resource, and
// deletes it when the test ends.
func New(t testing.TB, opts ...Option) *DB {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db := &DB{Endpoint: Endpoint(t), Table: "t_" + randomHex(8)}
	db.Client = db.NewClient(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var shape []func(*dynamodb.CreateTableInput)
	if o.noStream {
		shape = append(shape, func(in *dynamodb.CreateTableInput) { in.StreamSpecification = nil })
	}
	if err := ddblocal.CreateTable(ctx, db.Client, shared.tmpl, db.Table, shape...); err != nil {
		t.Fatalf("ddbtest: %v", err)
	}
	t.Cleanup(func() {
		// Not t.Context(): it is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.Client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(db.Table)}); err != nil {
			t.Errorf("ddbtest: delete table %s: %v", db.Table, err)
		}
	})
	return db
}

// NewClient returns another client for the same endpoint, for tests that
// need their own options, such as a middleware that counts calls or injects
// faults.
func (db *DB) NewClient(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	client, err := ddblocal.NewClient(context.Background(), db.Endpoint, optFns...)
	if err != nil {
		t.Fatalf("ddbtest: %v", err)
	}
	return client
}

// Main runs the tests, then stops the DynamoDB Local this process started
// (if any) and exits with the tests' exit code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.inst != nil {
		if err := shared.inst.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "ddbtest: stopping DynamoDB Local:", err)
		}
	}
	os.Exit(code)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
