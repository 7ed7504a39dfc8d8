// Package privacy keeps one patient's details from another: display names
// shown masked, phone numbers kept only as a keyed hash.
package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// Anonymous is shown for a patient whose token carries no name.
const Anonymous = "微信用户"

// MaskName keeps the first character and masks the rest: 张三 → 张*,
// Lily → L***. Names are never shown to other patients any other way.
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	runes := []rune(name)
	if len(runes) == 0 {
		return Anonymous
	}
	first := runes[0]
	stars := len(runes) - 1
	if first < unicode.MaxASCII {
		stars = 3 // a Latin name's length says too much
	}
	if stars < 1 {
		stars = 1
	}
	if stars > 3 {
		stars = 3
	}
	return string(first) + strings.Repeat("*", stars)
}

// PhoneHash is the HMAC-SHA256 of a normalized phone number under the
// secret pepper. Empty in, empty out.
func PhoneHash(pepper []byte, phone string) string {
	p := NormalizePhone(phone)
	if p == "" {
		return ""
	}
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(p))
	return hex.EncodeToString(m.Sum(nil))
}

// NormalizePhone keeps digits and a leading +, and reads a bare 11-digit
// mainland number as +86, so "138 0013 8000" and "+8613800138000" match.
func NormalizePhone(phone string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(phone) {
		if r == '+' && i == 0 {
			b.WriteRune(r)
		} else if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	p := b.String()
	if len(p) == 11 && p[0] == '1' {
		p = "+86" + p
	}
	if strings.HasPrefix(p, "86") && len(p) == 13 {
		p = "+" + p
	}
	if len(strings.TrimPrefix(p, "+")) < 5 {
		return ""
	}
	return p
}
