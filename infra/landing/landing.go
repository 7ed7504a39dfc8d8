// Package landing is the H5 page a share link opens: shareUrl is
// <SHARE_BASE_URL>?g=GROUPID for a group-buy room (the deal, the members
// masked, the seats left, a live countdown and a join button) or ?r=CODE for
// a referral code (the referrer masked and the newcomer offer).
//
// The page is one static file, static/index.html: plain HTML, CSS and
// JavaScript with nothing fetched from elsewhere, reading the same public
// API as the mini-program through relative URLs. Deployed, it is copied as
// is next to the API (the page at <base>s, the API at <base>v1/...), or
// anywhere with its laoyou-api-base meta tag set. Locally, Handler serves it
// from the binary.
package landing

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Page is the page's file in the static directory.
const Page = "index.html"

// Files are the page's files, for copying to a static host.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("landing: " + err.Error()) // the directory is embedded
	}
	return sub
}

// Handler serves the page at prefix (e.g. "/s", the path of SHARE_BASE_URL):
// prefix, prefix+"/" and prefix+"/index.html" all answer the page, with its
// query (?g= or ?r=) left to the page's script. Mount it for both prefix and
// prefix+"/".
func Handler(prefix string) http.Handler {
	prefix = "/" + strings.Trim(prefix, "/")
	page, err := fs.ReadFile(Files(), Page)
	if err != nil {
		panic("landing: " + err.Error())
	}
	csp := contentSecurityPolicy(page)
	sum := sha256.Sum256(page)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case prefix, prefix + "/", prefix + "/" + Page:
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		// Shared in chats and reopened for days: always revalidate, so a
		// fixed page reaches everyone.
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("ETag", etag)
		http.ServeContent(w, r, Page, time.Time{}, bytes.NewReader(page))
	})
}

// contentSecurityPolicy allows exactly the page's own inline script and
// style, and API calls to its own origin: nothing injected runs, nothing
// leaves for a third party.
func contentSecurityPolicy(page []byte) string {
	return fmt.Sprintf("default-src 'none'; script-src %s; style-src %s; connect-src 'self'; img-src 'self' data:; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
		hashOf(page, "<script>", "</script>"), hashOf(page, "<style>", "</style>"))
}

// hashOf is the CSP source of the inline element between open and close.
func hashOf(page []byte, open, close string) string {
	_, rest, ok := bytes.Cut(page, []byte(open))
	body, _, ok2 := bytes.Cut(rest, []byte(close))
	if !ok || !ok2 {
		panic("landing: the page has no " + open + " element")
	}
	sum := sha256.Sum256(body)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
