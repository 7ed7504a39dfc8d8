package hook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
)

// Webhook request headers (docs/API.md).
const (
	HeaderEventID   = "X-Laoyou-Event-Id"
	HeaderSignature = "X-Laoyou-Signature"
)

// Payload is the body a webhook receives: the event as JSON, {id, type,
// tenant, occurredAt, data}.
func Payload(e event.Event) ([]byte, error) { return json.Marshal(e) }

// Sign is the X-Laoyou-Signature of body: "sha256=" and the hex HMAC-SHA256
// of the body with the rule's secret. Receivers compute the same over the
// raw body and compare in constant time.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Delivery defaults.
const (
	DefaultAttempts = 4
	DefaultBackoff  = 500 * time.Millisecond
	DefaultTimeout  = 5 * time.Second
)

// ErrNoTime means the invocation's time ran out before a delivery ended:
// the event is to be retried by a later invocation, not dead-lettered.
var ErrNoTime = errors.New("hook: no time left to deliver the webhook")

// Deliverer POSTs events to webhooks, retrying with exponential backoff on
// a transport error or a status other than 2xx.
type Deliverer struct {
	Client   *http.Client  // default: no redirects followed (a 3xx is a failure)
	Attempts int           // default DefaultAttempts
	Backoff  time.Duration // pause after the first failure, doubling after each; default DefaultBackoff
	Timeout  time.Duration // per attempt; default DefaultTimeout
	// AllowLoopback says whether http to loopback is allowed (the local
	// runner); checked again at delivery, as the rule may be older than the
	// setting.
	AllowLoopback func() bool
}

// NewDeliverer returns a Deliverer with the defaults.
func NewDeliverer(allowLoopback func() bool) *Deliverer {
	return &Deliverer{
		Client: &http.Client{
			// A redirect could lead from a checked https URL anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Attempts: DefaultAttempts, Backoff: DefaultBackoff, Timeout: DefaultTimeout,
		AllowLoopback: allowLoopback,
	}
}

// Delivery is how one webhook delivery ended.
type Delivery struct {
	OK       bool
	Attempts int
	Status   int    // the last HTTP status; 0 if no response came
	Error    string // the last failure, for the dead letter
}

// Deliver POSTs e to w until it answers 2xx or the attempts are used up.
// It returns ErrNoTime, and no Delivery to act on, when ctx ends first.
func (d *Deliverer) Deliver(ctx context.Context, w Webhook, e event.Event) (Delivery, error) {
	allow := d.AllowLoopback != nil && d.AllowLoopback()
	if err := CheckURL(w.URL, allow); err != nil {
		return Delivery{Error: "url not allowed: " + apierr.Message(err)}, nil
	}
	body, err := Payload(e)
	if err != nil {
		return Delivery{}, err
	}
	var res Delivery
	for attempt := 1; attempt <= max(1, d.Attempts); attempt++ {
		if attempt > 1 {
			pause := d.Backoff << (attempt - 2)
			pause += time.Duration(rand.Int64N(int64(pause)/5 + 1)) // jitter: retries of many events spread out
			if !fits(ctx, pause+time.Second) {
				return Delivery{}, ErrNoTime
			}
			select {
			case <-ctx.Done():
				return Delivery{}, ErrNoTime
			case <-time.After(pause):
			}
		}
		if !fits(ctx, time.Second) {
			return Delivery{}, ErrNoTime
		}
		res.Attempts = attempt
		res.Status, err = d.post(ctx, w, e.ID, body)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return Delivery{}, ErrNoTime
			}
			res.Error = err.Error()
		case res.Status < 200 || res.Status > 299:
			res.Error = fmt.Sprintf("answered %d", res.Status)
		default:
			res.OK, res.Error = true, ""
			return res, nil
		}
	}
	return res, nil
}

func (d *Deliverer) post(ctx context.Context, w Webhook, eventID string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Laoyou-Webhook/1")
	req.Header.Set(HeaderEventID, eventID)
	req.Header.Set(HeaderSignature, Sign(w.Secret, body))
	resp, err := d.Client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL, which may carry a token
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return resp.StatusCode, nil
}

// fits reports whether ctx leaves at least need.
func fits(ctx context.Context, need time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) >= need
}
