// Package share makes what a patient shares in WeChat: random codes that are
// easy to read aloud and type, and the scene, mini-program path and H5 URL
// that open a code or a room.
package share

import (
	"crypto/rand"
	"net/url"
	"strings"
)

// Alphabet has no look-alikes (no 0/O, 1/I/L), so a code read off a poster
// or said at a front desk is typed right. 31 symbols: 4.95 bits each.
const Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Code lengths. Referral codes and room ids carry about 44 and 59 bits,
// coupon codes about 49: far too many to enumerate.
const (
	ReferralCodeLen = 9
	CouponCodeLen   = 10
	GroupIDLen      = 12
)

// NewCode returns n uniformly random symbols of Alphabet from crypto/rand.
func NewCode(n int) string {
	const limit = 256 - 256%len(Alphabet) // reject bytes that would bias the draw
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("share: no randomness: " + err.Error())
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, Alphabet[int(b)%len(Alphabet)])
			}
		}
	}
	return string(out)
}

// Normalize reads a code as a person may type it: case-insensitive, spaces
// and dashes ignored. ok is false if it cannot be a code of length n.
func Normalize(s string, n int) (code string, ok bool) {
	if len(s) > 4*n {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == ' ' || r == '-':
			continue
		case r < 128 && strings.IndexByte(Alphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != n {
		return "", false
	}
	return b.String(), true
}

// Links builds share links from configuration.
type Links struct {
	BaseURL         string // H5 landing, e.g. https://h5.clinic.cn/s
	MiniProgramPage string // e.g. /pages/landing/index
}

// Link is the share payload of one shareable thing.
type Link struct {
	Scene           string
	MiniProgramPath string
	ShareURL        string
}

// MaxScene is the most characters WeChat takes in a mini-program code's
// scene (getwxacodeunlimit); every link's scene must fit.
const MaxScene = 32

// Referral links tenant's referral code: scene "r=CODE".
func (l Links) Referral(tenant, code string) Link { return l.link(tenant, "r", code) }

// Group links tenant's group-buy room: scene "g=ID".
func (l Links) Group(tenant, groupID string) Link { return l.link(tenant, "g", groupID) }

// DefaultPage is the mini-program page links open when none is configured.
const DefaultPage = "/pages/landing/index"

// CodePage is the page a mini-program code (小程序码) opens, as WeChat's
// getwxacodeunlimit takes it: no leading "/" and no query (the scene is
// the code's query).
func (l Links) CodePage() string {
	page := l.MiniProgramPage
	if page == "" {
		page = DefaultPage
	}
	page, _, _ = strings.Cut(page, "?")
	page, _, _ = strings.Cut(page, "#")
	return strings.TrimLeft(page, "/")
}

// The H5 link also names the clinic (t=), so the landing page reads the
// code or room and the clinic's settings in one call; the mini-program
// knows its clinic, and a scene has no room for it.
func (l Links) link(tenant, param, value string) Link {
	// Codes come from Alphabet, so the scene needs no escaping and fits
	// WeChat's character set.
	q := param + "=" + value
	page := l.MiniProgramPage
	if page == "" {
		page = DefaultPage
	}
	if !strings.HasPrefix(page, "/") {
		page = "/" + page
	}
	return Link{
		Scene:           q,
		MiniProgramPath: page + "?" + q,
		ShareURL:        withQuery(l.BaseURL, param, value, tenant),
	}
}

func withQuery(base, param, value, tenant string) string {
	u, err := url.Parse(base)
	if err != nil {
		u = &url.URL{Path: base}
	}
	q := u.Query()
	q.Set(param, value)
	if tenant != "" {
		q.Set("t", tenant)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
