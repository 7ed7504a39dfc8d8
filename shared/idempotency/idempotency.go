// Package idempotency makes client retries safe: a POST or PUT repeated with
// the same Idempotency-Key and body, by the same user, answers the first
// response without doing the work again, and a hash of the payload catches a
// key reused for another request.
//
// A route's key record is written with the route's own write, so a keyed
// write costs no extra round trip: the request layer puts a Pending record
// and a Responder (how the route turns its result into status and body) in
// the context; the domain, having decided its answer, calls Prepare with it
// just before its commit; the store Takes the prepared record and adds it to
// the same transaction, conditional on the key being new. A retry's
// transaction is cancelled on that condition and the store returns the
// stored record as a *Replay error, which the request layer answers. This
// keeps domain packages free of HTTP and AWS types: they hand over a result
// value, never a status, a body or an item. Every POST and PUT is keyed
// this way; a record holds a finished answer only, so no request waits on
// another's claim.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Record is one recorded key and the answer it replays.
type Record struct {
	Key            string // hash of tenant, user and the client's key
	Token          string // which request wrote it: a write resent by the SDK finds its own
	PayloadHash    string
	ExpiresAt      time.Time // set by the store from its retention; the record is gone for good after this
	ResponseStatus int
	ResponseBody   string
}

// ValidKey reports whether a client's Idempotency-Key is acceptable.
func ValidKey(k string) bool { return len(k) >= 1 && len(k) <= 255 }

// Scope hashes who is asking with their key, so one user's key never collides
// with another's and no raw user id sits in the key.
func Scope(tenant, user, key string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + user + "\x00" + key))
	return hex.EncodeToString(h[:])
}

type scopeKey struct{}

// withScope carries the scope of the request's Idempotency-Key to the
// domain, so a write can recognise its own earlier commit when a retry
// comes after a reply that was lost.
func withScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeKey{}, scope)
}

// ScopeOf is the request's idempotency scope, "" when it has no key.
func ScopeOf(ctx context.Context) string {
	s, _ := ctx.Value(scopeKey{}).(string)
	return s
}

// PayloadHash identifies the request a key was first used for.
func PayloadHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Pending is a keyed request's record, written with the request's own write
// once the domain has prepared its answer.
type Pending struct {
	rec Record

	mu       sync.Mutex
	prepared bool
}

// NewPending is the pending record of a request of idempotency scope key
// and payload hash; the store that writes it sets how long it is kept.
func NewPending(key, payloadHash string) *Pending {
	return &Pending{rec: Record{Key: key, Token: newToken(), PayloadHash: payloadHash}}
}

// Key is the pending record's scope.
func (p *Pending) Key() string { return p.rec.Key }

type pendingKey struct{}

// WithPending carries p, and its scope (ScopeOf), to the request's write.
func WithPending(ctx context.Context, p *Pending) context.Context {
	return context.WithValue(withScope(ctx, p.rec.Key), pendingKey{}, p)
}

// PendingOf is the request's pending record; nil for a request without an
// Idempotency-Key (or not a POST or PUT).
func PendingOf(ctx context.Context) *Pending {
	p, _ := ctx.Value(pendingKey{}).(*Pending)
	return p
}

// Responder renders a route's result as the exact status and body the
// client gets.
type Responder func(result any) (status int, body []byte, err error)

type responderKey struct{}

// WithResponder tells Prepare how the route answers.
func WithResponder(ctx context.Context, r Responder) context.Context {
	return context.WithValue(ctx, responderKey{}, r)
}

// Prepare renders result, the answer the domain is about to commit, into the
// pending record, for the next write of the request to store. It does
// nothing for a request without a pending record. Call it right before each
// attempt of the write: a write takes the prepared record once.
func Prepare(ctx context.Context, result any) error {
	p := PendingOf(ctx)
	if p == nil {
		return nil
	}
	render, _ := ctx.Value(responderKey{}).(Responder)
	if render == nil {
		return fmt.Errorf("idempotency: no responder for the prepared answer %T", result)
	}
	status, body, err := render(result)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rec.ResponseStatus, p.rec.ResponseBody, p.prepared = status, string(body), true
	return nil
}

// Take returns the prepared record for the write about to be made, once;
// ok is false when there is none.
func Take(ctx context.Context) (rec Record, ok bool) {
	p := PendingOf(ctx)
	if p == nil {
		return Record{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.prepared {
		return Record{}, false
	}
	p.prepared = false
	return p.rec, true
}

// Replay is the error of a write cancelled because the request's key is
// already recorded: Stored is what the first request answered.
type Replay struct{ Stored Record }

func (r *Replay) Error() string { return "idempotency: the key is already recorded" }

// ReplayOf finds a *Replay in err's chain.
func ReplayOf(err error) (*Replay, bool) {
	var r *Replay
	return r, errors.As(err, &r)
}

// Recorder writes a prepared answer on its own: the store's half of Again.
type Recorder interface {
	// RecordAnswer writes the request's prepared record alone, unless its
	// key is recorded already: then it returns a *Replay of that record.
	RecordAnswer(ctx context.Context) error
}

// Again is for a request that finds its own earlier write done (the reply
// was lost and this is the client's retry): result, what that write did, is
// recorded under the request's key if nothing is yet, so later repeats
// replay it; if the key's record is there, Again returns it as a *Replay,
// so the retry answers byte for byte what the first request did. It does
// nothing for a request without a pending record.
func Again(ctx context.Context, store Recorder, result any) error {
	if PendingOf(ctx) == nil {
		return nil
	}
	if err := Prepare(ctx, result); err != nil {
		return err
	}
	return store.RecordAnswer(ctx)
}

// AnswerReader reads a request's stored answer: the store's half of Spent.
type AnswerReader interface {
	// StoredAnswer reads the record stored under the request's key,
	// strongly consistent: a *Replay of it, nil if there is none.
	StoredAnswer(ctx context.Context) error
}

// spentWait bounds how long Spent waits for the record of an earlier
// attempt still writing it: a sign-in's write follows WeChat's answer by
// milliseconds.
const spentWait = 2 * time.Second

// Spent is for a keyed request refused because a one-time thing it carries
// (a WeChat code) is used up, perhaps by this request's own earlier attempt
// whose reply was lost, or by a repeat of it still running: the key's
// record, if it appears, comes back as a *Replay, so the repeat answers
// what the first attempt did; else refusal. The record is read only on
// this path, again with backoff for at most spentWait while it is absent.
// A request without a pending record gets refusal as it is.
func Spent(ctx context.Context, store AnswerReader, refusal error) error {
	if PendingOf(ctx) == nil {
		return refusal
	}
	deadline := time.Now().Add(spentWait)
	for pause := 10 * time.Millisecond; ; pause *= 2 {
		if err := store.StoredAnswer(ctx); err != nil {
			return err
		}
		if time.Now().Add(pause).After(deadline) {
			return refusal
		}
		select {
		case <-ctx.Done():
			return refusal
		case <-time.After(pause):
		}
	}
}
