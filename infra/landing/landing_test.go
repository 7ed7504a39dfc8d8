package landing

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHandlerServesThePage(t *testing.T) {
	h := Handler("/s")
	page, err := fs.ReadFile(Files(), Page)
	require.NoError(t, err)
	tests := []struct {
		method, target string
		status         int
	}{
		{"GET", "/s?g=QG624EVC29BB", 200},
		{"GET", "/s?r=BR2NC3BN3", 200},
		{"GET", "/s/", 200},
		{"GET", "/s/index.html", 200},
		{"HEAD", "/s", 200},
		{"GET", "/s/app.js", 404},
		{"GET", "/static/index.html", 404},
		{"POST", "/s", 405},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			require.Equal(t, tc.status, rec.Code)
			if tc.status != 200 {
				return
			}
			require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
			require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
			require.NotEmpty(t, rec.Header().Get("ETag"))
			if tc.method == "GET" {
				require.Equal(t, string(page), rec.Body.String())
			}
		})
	}
}

func TestRevalidationAnswersNotModified(t *testing.T) {
	h := Handler("/s")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/s", nil))
	req := httptest.NewRequest("GET", "/s?g=X", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	again := httptest.NewRecorder()
	h.ServeHTTP(again, req)
	require.Equal(t, http.StatusNotModified, again.Code)
}

func TestPolicyAllowsOnlyThePagesOwnCode(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler("s/").ServeHTTP(rec, httptest.NewRequest("GET", "/s", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "connect-src 'self'")
	require.Regexp(t, `script-src 'sha256-[A-Za-z0-9+/]{43}='`, csp)
	require.Regexp(t, `style-src 'sha256-[A-Za-z0-9+/]{43}='`, csp)
	require.NotContains(t, csp, "unsafe")
}

// The page must work offline from any CDN: behind the Great Firewall and
// in WeChat's web-view, a blocked font or script leaves a blank page.
func TestPageLoadsNothingFromElsewhere(t *testing.T) {
	f, err := Files().Open(Page)
	require.NoError(t, err)
	raw, err := io.ReadAll(f)
	require.NoError(t, err)
	page := string(raw)
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import|<link\b|<script\s+[^>]*src`)
	require.Empty(t, external.FindAllString(page, -1), "the page is self-contained")
	require.Equal(t, 1, strings.Count(page, "<script>"), "one inline script, whose hash the policy allows")
	require.Equal(t, 1, strings.Count(page, "<style>"), "one inline style, whose hash the policy allows")
	// Data from the API reaches the page only as text.
	require.NotContains(t, page, "innerHTML")
}
