// Package idempotency makes client retries safe: a POST or PUT repeated with
// the same Idempotency-Key and body, by the same user, answers the first
// response without doing the work again. It follows the Powertools design: a
// conditional put claims the key as IN_PROGRESS until the invocation's
// deadline, the response is stored on completion, and a hash of the payload
// catches a key reused for another request.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

// NewGuard returns a guard keeping responses for 25 hours.
func NewGuard(s Store) *Guard {
	return &Guard{Store: s, Keep: 25 * time.Hour, InFlight: 30 * time.Second, Now: time.Now}
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
