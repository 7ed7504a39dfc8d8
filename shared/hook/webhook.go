package hook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

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

// Why a delivery failed, as a tenant sees it (dead letters) and logs keep
// it: a fixed set, never the network's own error text, which would tell a
// closed port from an open one or a filtered host.
const (
	ReasonTimeout         = "timeout"         // connected, but no answer in time
	ReasonRefusedAddress  = "refused_address" // the URL or an address of its host is not public
	ReasonTLSError        = "tls_error"       // the TLS handshake or certificate failed
	ReasonUnreachable     = "unreachable"     // no connection, or it broke: closed, filtered, unknown host alike
	reasonHTTPStatusStart = "http_"           // http_<status>: answered, but not 2xx
)

// ReasonHTTPStatus is the reason for an answer other than 2xx.
func ReasonHTTPStatus(status int) string { return reasonHTTPStatusStart + strconv.Itoa(status) }

// ErrNoTime means the invocation's time ran out before a delivery ended:
// the event is to be retried by a later invocation, not dead-lettered.
var ErrNoTime = errors.New("hook: no time left to deliver the webhook")

// Lookup resolves a webhook's host name to its addresses.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// Deliverer POSTs events to webhooks, retrying with exponential backoff on
// a transport error or a status other than 2xx.
type Deliverer struct {
	// Client sends the requests; NewDeliverer's follows no redirects (a 3xx
	// is a failure) and connects only to allowed addresses.
	Client   *http.Client
	Attempts int           // default DefaultAttempts
	Backoff  time.Duration // pause after the first failure, doubling after each; default DefaultBackoff
	Timeout  time.Duration // per attempt; default DefaultTimeout
	// AllowLoopback says whether http to loopback is allowed (the local
	// runner); checked again at delivery, as the rule may be older than the
	// setting, and at every connection.
	AllowLoopback func() bool
	// Lookup resolves host names; nil is the system's resolver.
	Lookup Lookup
	// connect dials an allowed address; nil is a net.Dialer with the
	// address check as its Control. Tests keep connections on loopback.
	connect func(ctx context.Context, network, address string) (net.Conn, error)
}

// NewDeliverer returns a Deliverer with the defaults.
func NewDeliverer(allowLoopback func() bool) *Deliverer {
	d := &Deliverer{
		Attempts: DefaultAttempts, Backoff: DefaultBackoff, Timeout: DefaultTimeout,
		AllowLoopback: allowLoopback,
	}
	d.Client = &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // a proxy would connect where the checks below never look
			DialContext:         d.dial,
			TLSHandshakeTimeout: DefaultTimeout,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		// A redirect could lead from a checked https URL anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d
}

// dial connects to host:port only if every address the host resolves to
// is allowed, then to those addresses only; the dialer's Control checks
// each connection again, whatever led to it.
func (d *Deliverer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	allow := d.AllowLoopback != nil && d.AllowLoopback()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = d.lookup(ctx, host); err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	for _, ip := range addrs {
		// One address not allowed refuses the name: it is no public service.
		if !allowedAddr(ip, allow) {
			return nil, errRefusedAddress
		}
	}
	connect := d.connect
	if connect == nil {
		dialer := net.Dialer{Control: dialControl(d.AllowLoopback)}
		connect = dialer.DialContext
	}
	var errs []error
	for _, ip := range addrs {
		conn, err := connect(ctx, network, net.JoinHostPort(ip.WithZone("").Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (d *Deliverer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if d.Lookup != nil {
		return d.Lookup(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// Delivery is how one webhook delivery ended.
type Delivery struct {
	OK       bool
	Attempts int
	Status   int    // the last HTTP status; 0 if no response came
	Error    string // why the last attempt failed: one of the Reason values
}

// Deliver POSTs e to w until it answers 2xx or the attempts are used up.
// It returns ErrNoTime, and no Delivery to act on, when ctx ends first.
func (d *Deliverer) Deliver(ctx context.Context, w Webhook, e event.Event) (Delivery, error) {
	allow := d.AllowLoopback != nil && d.AllowLoopback()
	if err := CheckURL(w.URL, allow); err != nil {
		return Delivery{Error: ReasonRefusedAddress}, nil
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
		var connected bool
		res.Status, connected, err = d.post(ctx, w, e.ID, body)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return Delivery{}, ErrNoTime
			}
			res.Error = failureReason(err, connected)
			if res.Error == ReasonRefusedAddress {
				return res, nil // the same address would be refused again
			}
		case res.Status < 200 || res.Status > 299:
			res.Error = ReasonHTTPStatus(res.Status)
		default:
			res.OK, res.Error = true, ""
			return res, nil
		}
	}
	return res, nil
}

// failureReason sorts a failed attempt into the reasons a tenant is shown.
// Whatever happened before a connection stood (refused, reset, timed out,
// no such host) is unreachable, so that no port's state shows through.
func failureReason(err error, connected bool) string {
	var (
		recordErr *tls.RecordHeaderError
		alertErr  tls.AlertError
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, errRefusedAddress):
		return ReasonRefusedAddress
	case errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &certErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return ReasonTLSError
	case !connected:
		return ReasonUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	}
	return ReasonUnreachable
}

// post sends one attempt; connected says whether a connection stood (and,
// for https, its TLS handshake succeeded) before any error.
func (d *Deliverer) post(ctx context.Context, w Webhook, eventID string, body []byte) (status int, connected bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	var gotConn atomic.Bool // set by the transport's goroutine
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Laoyou-Webhook/1")
	req.Header.Set(HeaderEventID, eventID)
	req.Header.Set(HeaderSignature, Sign(w.Secret, body))
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, gotConn.Load(), err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return resp.StatusCode, true, nil
}

// fits reports whether ctx leaves at least need.
func fits(ctx context.Context, need time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) >= need
}
