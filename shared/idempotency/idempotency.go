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
// value, never a status, a body or an item.
//
// Routes not converted to that path use the Powertools-style Guard: a
// conditional put claims the key as IN_PROGRESS until the invocation's
// deadline, and the response is stored on completion.
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

	"github.com/laoyou/laoyou/shared/apierr"
)

// Status of a stored record.
type Status string

const (
	InProgress Status = "IN_PROGRESS"
	Completed  Status = "COMPLETED"
)

// Record is one claimed key.
type Record struct {
	Key             string // hash of tenant, user and the client's key
	Token           string // who holds the claim; completion is conditional on it
	PayloadHash     string
	Status          Status
	InProgressUntil time.Time // a crashed holder's claim lapses then
	ExpiresAt       time.Time // the record is gone for good after this
	ResponseStatus  int
	ResponseBody    string
}

// Store keeps records. Claim must be a single conditional write: it stores rec
// unless a live record holds the key, in which case it returns that record.
type Store interface {
	Claim(ctx context.Context, rec Record, now time.Time) (existing *Record, err error)
	Complete(ctx context.Context, rec Record) error
	Release(ctx context.Context, rec Record) error
}

// Guard applies the rules on top of a Store.
type Guard struct {
	Store Store
	// Keep is how long a completed response is replayed (docs/API.md: at least 24h).
	Keep time.Duration
	// InFlight bounds a claim when the context has no deadline.
	InFlight time.Duration
	Now      func() time.Time
}

// NewGuard returns a guard keeping responses for keep (the configured
// Idempotency-Key retention).
func NewGuard(s Store, keep time.Duration) *Guard {
	return &Guard{Store: s, Keep: keep, InFlight: 30 * time.Second, Now: time.Now}
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

// WithScope carries the scope of the request's Idempotency-Key to the
// domain, so a write can recognise its own earlier commit when a retry
// comes after a reply that was lost.
func WithScope(ctx context.Context, scope string) context.Context {
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

// Begin claims the key. It returns (claim, nil, nil) when the caller should do
// the work and then Finish or Abandon the claim; (nil, replay, nil) when a
// completed response is to be replayed; or an error of kind
// IDEMPOTENCY_KEY_REUSED or REQUEST_IN_PROGRESS.
func (g *Guard) Begin(ctx context.Context, key, payloadHash string) (claim *Record, replay *Record, err error) {
	const op = apierr.Op("idempotency.Begin")
	now := g.Now()
	until := now.Add(g.InFlight)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	rec := Record{
		Key:             key,
		Token:           newToken(),
		PayloadHash:     payloadHash,
		Status:          InProgress,
		InProgressUntil: until,
		ExpiresAt:       now.Add(g.Keep),
	}
	existing, err := g.Store.Claim(ctx, rec, now)
	if err != nil {
		return nil, nil, apierr.E(op, err)
	}
	if existing == nil {
		return &rec, nil, nil
	}
	switch {
	case existing.PayloadHash != payloadHash:
		return nil, nil, apierr.E(op, apierr.IdempotencyKeyReused, "this Idempotency-Key was used for a different request")
	case existing.Status == Completed:
		return nil, existing, nil
	default:
		return nil, nil, apierr.E(op, apierr.RequestInProgress, "a request with this Idempotency-Key is still in progress")
	}
}

// Finish stores the response of a claimed request for replay.
func (g *Guard) Finish(ctx context.Context, claim *Record, status int, body string) error {
	claim.Status = Completed
	claim.ResponseStatus = status
	claim.ResponseBody = body
	return g.Store.Complete(ctx, *claim)
}

// Abandon frees the key after a failure the client may retry (a 5xx).
func (g *Guard) Abandon(ctx context.Context, claim *Record) error {
	return g.Store.Release(ctx, *claim)
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
// and payload hash, kept for keep (docs/API.md: at least 24 hours).
func NewPending(key, payloadHash string, now time.Time, keep time.Duration) *Pending {
	return &Pending{rec: Record{
		Key: key, Token: newToken(), PayloadHash: payloadHash, Status: Completed, ExpiresAt: now.Add(keep),
	}}
}

// Key is the pending record's scope.
func (p *Pending) Key() string { return p.rec.Key }

type pendingKey struct{}

// WithPending carries p, and its scope (WithScope), to the request's write.
func WithPending(ctx context.Context, p *Pending) context.Context {
	return context.WithValue(WithScope(ctx, p.rec.Key), pendingKey{}, p)
}

// PendingOf is the request's pending record, nil when its route does not
// write its key with its own write or the request has no key.
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
// already recorded: Stored is what the first request answered (or is still
// doing, for a Guard's claim).
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
// It does nothing for a request without a pending record.
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
