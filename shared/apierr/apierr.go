// Package apierr is Laoyou's one error type. An error carries a Kind, which is
// the error code of the API contract, and the operation that failed; the HTTP
// layer (package httpapi) maps kinds to statuses in one place.
package apierr

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the API error code a client sees, e.g. "GROUP_FULL".
type Kind string

// The kinds of the API contract (docs/API.md). Internal is never shown to clients
// with its cause.
const (
	Other                Kind = ""
	BadRequest           Kind = "BAD_REQUEST"
	NotFound             Kind = "NOT_FOUND"
	Forbidden            Kind = "FORBIDDEN"
	Unauthorized         Kind = "UNAUTHORIZED"
	PayloadTooLarge      Kind = "PAYLOAD_TOO_LARGE"
	IdempotencyKeyReused Kind = "IDEMPOTENCY_KEY_REUSED"
	RequestInProgress    Kind = "REQUEST_IN_PROGRESS"
	Internal             Kind = "INTERNAL"
	Unavailable          Kind = "SERVICE_UNAVAILABLE"

	// Referral.
	CodeNotFound        Kind = "CODE_NOT_FOUND"
	SelfReferral        Kind = "SELF_REFERRAL"
	AlreadyBound        Kind = "ALREADY_BOUND"
	NotANewPatient      Kind = "NOT_A_NEW_PATIENT"
	ReferrerNotEligible Kind = "REFERRER_NOT_ELIGIBLE"
	VisitNotFound       Kind = "VISIT_NOT_FOUND"
	SelfVisit           Kind = "SELF_VISIT"

	// Coupons.
	TemplateNotFound Kind = "TEMPLATE_NOT_FOUND"
	NotClaimable     Kind = "NOT_CLAIMABLE"
	OutOfStock       Kind = "OUT_OF_STOCK"
	LimitReached     Kind = "LIMIT_REACHED"
	AlreadyRedeemed  Kind = "ALREADY_REDEEMED"
	CouponExpired    Kind = "COUPON_EXPIRED"
	CouponNotActive  Kind = "COUPON_NOT_ACTIVE"
	CouponNotFound   Kind = "COUPON_NOT_FOUND"

	// Group-buy.
	DealNotFound  Kind = "DEAL_NOT_FOUND"
	DealNotActive Kind = "DEAL_NOT_ACTIVE"
	SoldOut       Kind = "SOLD_OUT"
	GroupNotFound Kind = "GROUP_NOT_FOUND"
	GroupFull     Kind = "GROUP_FULL"
	GroupClosed   Kind = "GROUP_CLOSED"
	AlreadyMember Kind = "ALREADY_MEMBER"

	// WeChat.
	WeChatCodeInvalid   Kind = "WECHAT_CODE_INVALID"   // a wx.login or phone code that is bad, used or expired
	WeChatUserBlocked   Kind = "WECHAT_USER_BLOCKED"   // WeChat's 40226: the user is blocked
	WeChatNotConfigured Kind = "WECHAT_NOT_CONFIGURED" // the tenant has no mini-program set
	WeChatUnavailable   Kind = "WECHAT_UNAVAILABLE"    // WeChat busy, rate limited or out of reach
)

// Op names the operation that failed, e.g. "referral.Bind".
type Op string

// Error is the error type of every Laoyou package.
type Error struct {
	Op   Op
	Kind Kind
	Msg  string // for the client: says what is wrong, never carries personal data
	Err  error  // the cause, for logs only
}

// E builds an *Error from its arguments in any order: an Op, a Kind, a string
// (the client message) and an error (the cause). If the cause is an *Error and
// no Kind is given, its Kind and message are kept.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case Op:
			e.Op = a
		case Kind:
			e.Kind = a
		case string:
			e.Msg = a
		case error:
			e.Err = a
		default:
			panic(fmt.Sprintf("apierr.E: bad argument %T", a))
		}
	}
	var inner *Error
	if errors.As(e.Err, &inner) {
		if e.Kind == Other {
			e.Kind = inner.Kind
		}
		if e.Msg == "" {
			e.Msg = inner.Msg
		}
	}
	return e
}

// Errorf is E with a formatted client message.
func Errorf(op Op, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(string(e.Op))
		b.WriteString(": ")
	}
	if e.Kind != Other {
		b.WriteString(string(e.Kind))
	}
	if e.Msg != "" {
		if e.Kind != Other {
			b.WriteString(": ")
		}
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf reports the Kind of err: Internal for any error that is not an *Error
// with a kind.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) && e.Kind != Other {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has the given kind.
func Is(kind Kind, err error) bool { return err != nil && KindOf(err) == kind }

// Message is the client-facing message of err.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return ""
}

// Missing is the BadRequest of a required request field that is absent or
// empty. Every layer words field errors with it and Invalid, so a client
// reads the same sentence whichever layer caught the mistake.
func Missing(field string) error {
	return Errorf("", BadRequest, "field %q is required", field)
}

// Invalid is the BadRequest of a request field whose value is out of range
// or malformed; why completes the sentence `field "x" ...`.
func Invalid(field, why string) error {
	return Errorf("", BadRequest, "field %q %s", field, why)
}
