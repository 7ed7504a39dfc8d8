package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/laoyou/laoyou/infra/localauth"
)

// Routes served by the runner itself, never forwarded to a function.
const (
	localToken  = "/_local/token"
	localJWKS   = "/_local/jwks.json"
	localOIDC   = "/_local/.well-known/openid-configuration"
	localInvoke = "/_local/invoke/"
)

// validRoles are the roles of docs/API.md; a token for anything else would only
// hide mistakes in the tests that mint it.
var validRoles = map[string]bool{"patient": true, "staff": true, "admin": true}

// apiError is the error shape of docs/API.md, used for the runner's own routes.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"requestId"`
}

func writeError(w http.ResponseWriter, status int, code, msg, requestID string) {
	var e apiError
	e.Error.Code, e.Error.Message, e.RequestID = code, msg, requestID
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"INTERNAL","message":"cannot encode result"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// serveLocal answers the /_local routes and returns their route key.
func (s *Server) serveLocal(w http.ResponseWriter, r *http.Request, requestID string) string {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == localToken:
		s.serveToken(w, r, requestID)
		return "POST " + localToken
	case r.Method == http.MethodGet && p == localJWKS && s.cfg.Auth != nil:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.cfg.Auth.JWKS())
		return "GET " + localJWKS
	case r.Method == http.MethodGet && p == localOIDC && s.cfg.Auth != nil:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.cfg.Auth.OpenIDConfiguration())
		return "GET " + localOIDC
	case r.Method == http.MethodPost && strings.HasPrefix(p, localInvoke):
		s.serveInvoke(w, r, requestID)
		return "POST " + localInvoke + "{function}"
	}
	writeError(w, http.StatusNotFound, "NOT_FOUND", "no local route "+r.Method+" "+p, requestID)
	return "-"
}

type tokenBody struct {
	Sub         string `json:"sub"`
	Tenant      string `json:"tenant"`
	Role        string `json:"role"`
	Name        string `json:"name"`
	PhoneNumber string `json:"phone_number"`
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, requestID string) {
	if s.cfg.Auth == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "the runner has no local authority", requestID)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "cannot read body", requestID)
		return
	}
	var tb tokenBody
	if err := json.Unmarshal(body, &tb); err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "body must be a JSON object {sub, tenant, role, name?, phone_number?}", requestID)
		return
	}
	switch {
	case tb.Sub == "":
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "sub is required", requestID)
		return
	case tb.Tenant == "":
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "tenant is required", requestID)
		return
	case !validRoles[tb.Role]:
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "role must be patient, staff or admin", requestID)
		return
	}
	tok, err := s.cfg.Auth.Issue(localauth.TokenRequest{
		Sub: tb.Sub, Tenant: tb.Tenant, Role: tb.Role, Name: tb.Name, PhoneNumber: tb.PhoneNumber,
	}, TokenTTL)
	if err != nil {
		s.log.Error("issue token", "requestId", requestID, "error", err)
		writeError(w, http.StatusInternalServerError, "INTERNAL", "cannot issue token", requestID)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func (s *Server) serveInvoke(w http.ResponseWriter, r *http.Request, requestID string) {
	name, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), localInvoke))
	if err != nil || name == "" || strings.Contains(name, "/") {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "unknown function", requestID)
		return
	}
	fn := s.cfg.Invoke[name]
	if fn == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("unknown function %q", name), requestID)
		return
	}
	body, err := readBody(r)
	if errors.Is(err, errTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "payload too large", requestID)
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "cannot read body", requestID)
		return
	}
	payload := json.RawMessage(bytes.TrimSpace(body))
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	if !json.Valid(payload) {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "payload must be JSON", requestID)
		return
	}
	// Like `sam local invoke`, the run completes even if the caller hangs up.
	out, err := s.invoke(context.WithoutCancel(r.Context()), name, fn, payload)
	if err != nil {
		s.log.Error("invoke failed", append([]any{"function", name, "requestId", requestID}, errAttrs(err)...)...)
		writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error(), requestID)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// invoke runs an Invoke function with a Lambda context and deadline,
// recovering a panic.
func (s *Server) invoke(parent context.Context, name string, fn InvokeFunc, payload json.RawMessage) (out any, err error) {
	ctx, cancel := context.WithTimeout(parent, s.cfg.InvokeTimeout)
	defer cancel()
	ctx = s.lambdaContext(ctx, name)
	err = safely(func() error {
		var ferr error
		out, ferr = fn(ctx, payload)
		return ferr
	})
	return out, err
}
