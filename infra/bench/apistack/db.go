// Package apistack runs Laoyou's HTTP API in this process over a fresh
// table in DynamoDB Local, for the performance measurements of infra/bench.
//
// It builds the events API Gateway would send and hands them to the
// functions' handlers exactly as their main packages build them; it counts
// each request's DynamoDB calls, records the keys of every write and the
// items every read returns, and can build a request's DynamoDB calls
// without sending them, so that a measurement can issue the same calls
// bare.
package apistack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/laoyou/laoyou/infra/ddblocal"
	"github.com/laoyou/laoyou/infra/samtemplate"
)

// EndpointEnv names the variable that points the measurements at a running
// DynamoDB (`ddblocal exec` sets it); without it, Open starts DynamoDB Local.
const EndpointEnv = "DYNAMODB_ENDPOINT"

// DB is the DynamoDB the measurements run against.
type DB struct {
	Endpoint string
	Template *samtemplate.Template
	inst     *ddblocal.Instance // nil when EndpointEnv was set
}

// Open finds template.yaml and the DynamoDB to use: the one EndpointEnv
// names, or a DynamoDB Local started now (Close stops it).
func Open(ctx context.Context) (*DB, error) {
	path, err := samtemplate.FindPath()
	if err != nil {
		return nil, err
	}
	tmpl, err := samtemplate.Load(path)
	if err != nil {
		return nil, err
	}
	db := &DB{Template: tmpl, Endpoint: os.Getenv(EndpointEnv)}
	if db.Endpoint != "" {
		return db, nil
	}
	if db.inst, err = ddblocal.Start(ctx, ddblocal.Options{}); err != nil {
		return nil, fmt.Errorf("apistack: starting DynamoDB Local (or set %s): %w", EndpointEnv, err)
	}
	db.Endpoint = db.inst.Endpoint
	return db, nil
}

// Close stops the DynamoDB Local that Open started, if it did.
func (db *DB) Close() error {
	if db.inst == nil {
		return nil
	}
	return db.inst.Stop()
}

// Table is a table of its own, shaped like the template's, for one
// measurement.
type Table struct {
	DB     *DB
	Name   string
	Client *dynamodb.Client // plain: nothing counted or recorded
}

// NewTable creates a uniquely named table from the template, without its
// stream (see StreamNote).
func (db *DB) NewTable(ctx context.Context) (*Table, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	t := &Table{DB: db, Name: "bench_" + hex.EncodeToString(b)}
	var err error
	if t.Client, err = ddblocal.NewClient(ctx, db.Endpoint); err != nil {
		return nil, err
	}
	in, err := db.Template.TableInput(t.Name)
	if err != nil {
		return nil, err
	}
	in.StreamSpecification = nil
	if _, err := t.Client.CreateTable(ctx, in); err != nil {
		return nil, fmt.Errorf("apistack: create table %s: %w", t.Name, err)
	}
	// Finds the table made, waits until it is active and enables TTL as
	// the template says.
	if err := ddblocal.CreateTable(ctx, t.Client, db.Template, t.Name); err != nil {
		return nil, err
	}
	return t, nil
}

// StreamNote says, for the reports, why the measurements' tables have no
// stream. DynamoDB Local writes stream records as part of every write, into
// a store that grows for the life of the process and slows every later
// write: a claim took 16 ms on a fresh DynamoDB Local with the stream on,
// 90 ms once a few thousand writes had gone through (to tables since
// dropped), and 4 ms with no stream. In AWS the stream is written
// asynchronously and costs a write nothing. No measurement reads the
// stream: the hot-key trace hands the hooks their events itself.
const StreamNote = "The tables are created from template.yaml without their stream: DynamoDB Local writes stream " +
	"records inside every write, into a store that grows for the life of the process (a claim took 16 ms on a fresh " +
	"DynamoDB Local, 90 ms after a few thousand writes to tables since dropped, 4 ms without the stream), while in AWS " +
	"the stream costs a write nothing."

// Drop deletes the table. It does not take the measurement's context,
// which may be over by then.
func (t *Table) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := t.Client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t.Name)})
	return err
}

// WithTable runs measure on a new table and drops the table afterwards.
func (db *DB) WithTable(ctx context.Context, measure func(*Table) error) error {
	t, err := db.NewTable(ctx)
	if err != nil {
		return err
	}
	return errors.Join(measure(t), t.Drop())
}
