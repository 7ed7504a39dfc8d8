// Package privacy keeps one patient's details from another: display names
// shown masked, phone numbers kept only as a keyed hash.
package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
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

// PhoneHash is the HMAC-SHA256 of a phone number in E.164 form under the
// secret pepper. A claim that is no plausible number (see NormalizePhone)
// has no hash: empty in, empty out.
func PhoneHash(pepper []byte, phone string) string {
	p := NormalizePhone(phone)
	if p == "" {
		return ""
	}
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(p))
	return hex.EncodeToString(m.Sum(nil))
}

// E.164 numbers: a country code and subscriber number of 8 to 15 digits in
// all; a mainland China (+86) mobile number is 11 digits starting with 1.
const (
	minE164Digits  = 8
	maxE164Digits  = 15
	mainland       = "+86"
	mainlandDigits = 11
)

// NormalizePhone writes a phone number as E.164 ("+8613800138000"), so one
// number has one hash however it was typed: full-width characters read as
// their ASCII forms, "00" before the country code is "+", a "(0)" trunk
// digit after it is dropped, spaces, dashes, dots and parentheses are
// ignored, and a bare mainland mobile number (11 digits starting with 1,
// with or without a leading 86) is +86. Anything else, or anything not
// plausible as a number (letters, too few or too many digits, a +86 number
// that is no mobile number), answers "": such a claim is ignored, never
// trusted.
func NormalizePhone(phone string) string {
	s := foldWidth(phone)
	international := false
	switch s = strings.TrimLeft(s, separators); {
	case strings.HasPrefix(s, "+"):
		s, international = s[1:], true
	case strings.HasPrefix(s, "00"):
		s, international = s[2:], true
	}
	if international {
		// The trunk prefix some write after the country code: +86 (0)138...
		s = strings.Replace(s, "(0)", "", 1)
	}
	digits := make([]byte, 0, maxE164Digits)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if len(digits) == maxE164Digits+1 {
				return "" // too long; stop before reading more
			}
			digits = append(digits, c)
		case strings.IndexByte(separators, c) >= 0:
		default:
			return "" // a letter, a second +, an extension mark
		}
	}
	d := string(digits)
	if !international {
		switch {
		case len(d) == mainlandDigits && d[0] == '1':
			d = "86" + d
		case len(d) == 2+mainlandDigits && strings.HasPrefix(d, "861"):
		default:
			return "" // a number without its country code is read only as a mainland mobile
		}
	}
	e164 := "+" + d
	switch {
	case len(d) < minE164Digits || len(d) > maxE164Digits || d[0] == '0':
		return ""
	case strings.HasPrefix(e164, mainland) && (len(d) != 2+mainlandDigits || d[2] != '1'):
		return ""
	}
	return e164
}

// separators may appear anywhere in a written number.
const separators = " \t-.()"

// foldWidth reads full-width forms (what a Chinese input method types:
// １３８, ＋, （）, the ideographic space) and other dashes as ASCII, the part
// of NFKC that phone numbers meet, without a normalisation table in every
// binary.
func foldWidth(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // the full-width ASCII block
			r -= 0xFEE0
		case r == 0x3000 || r == 0x00A0 || r == 0x202F || (r >= 0x2000 && r <= 0x200A): // ideographic and other spaces
			r = ' '
		case (r >= 0x2010 && r <= 0x2015) || r == 0x2212 || r == 0x30FC || r == 0xFE63: // dashes, minus, long vowel mark
			r = '-'
		}
		b.WriteRune(r)
	}
	return b.String()
}
