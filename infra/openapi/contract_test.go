package openapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/samtemplate"
	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/httpapi"
)

// pendingRoutes are routes the spec describes that template.yaml does not
// deploy yet; one leaves the list when the template deploys it (the test
// says so). Empty: every route of the spec is deployed.
var pendingRoutes = []string{}

func loadSpec(t testing.TB) *Spec {
	t.Helper()
	path, err := FindPath()
	require.NoError(t, err)
	s, err := Load(path)
	require.NoError(t, err)
	return s
}

func loadTemplate(t testing.TB) *samtemplate.Template {
	t.Helper()
	path, err := samtemplate.FindPath()
	require.NoError(t, err)
	tmpl, err := samtemplate.Load(path)
	require.NoError(t, err)
	return tmpl
}

// templateRoutes are the template's HttpApi routes by key, without the
// $default catch-all (it answers unknown routes; the spec has no path for it).
func templateRoutes(t testing.TB) map[string]samtemplate.Route {
	out := map[string]samtemplate.Route{}
	for _, r := range loadTemplate(t).Routes() {
		if r.Path != "$default" {
			out[r.String()] = r
		}
	}
	return out
}

func TestSpecIsWellFormed(t *testing.T) {
	s := loadSpec(t)
	require.Equal(t, "3.1.0", s.Doc["openapi"])
	require.NoError(t, s.Lint())
}

func TestRoutesAreTheTemplates(t *testing.T) {
	s := loadSpec(t)
	deployed := templateRoutes(t)
	var inSpec []string
	for _, op := range s.Operations() {
		inSpec = append(inSpec, op.Route())
	}
	want := slices.Collect(func(yield func(string) bool) {
		for k := range deployed {
			if !yield(k) {
				return
			}
		}
	})
	for _, p := range pendingRoutes {
		_, ok := deployed[p]
		require.False(t, ok, "%s is in template.yaml now: remove it from pendingRoutes", p)
		want = append(want, p)
	}
	require.ElementsMatch(t, want, inSpec, "openapi.yaml's routes are template.yaml's HttpApi routes plus pendingRoutes")
}

func TestSecurityMatchesTheAuthorizer(t *testing.T) {
	s := loadSpec(t)
	deployed := templateRoutes(t)
	global, _ := s.Doc["security"].([]any)
	require.Len(t, global, 1, "protected by default, as the HttpApi's DefaultAuthorizer")
	for _, op := range s.Operations() {
		sec, explicit := op.Doc["security"].([]any)
		public := explicit && len(sec) == 0
		if r, ok := deployed[op.Route()]; ok {
			require.Equal(t, r.Public, public, "%s: public in template.yaml (Authorizer: NONE) iff security: [] in the spec", op.Route())
		} else {
			require.False(t, public, "%s: every pending route needs a token", op.Route())
		}
		statuses := s.Statuses(op)
		if public {
			require.NotContains(t, statuses, 401, op.Route())
			// No role is checked: a public route's 403 is never FORBIDDEN
			// (sign-in's is WECHAT_USER_BLOCKED, WeChat's refusal).
			if slices.Contains(statuses, 403) {
				require.NotContains(t, codesOf(t, s, op, 403), "FORBIDDEN", op.Route())
				require.NotEmpty(t, codesOf(t, s, op, 403), op.Route())
			}
		} else {
			require.Contains(t, statuses, 401, "%s: the authorizer answers 401", op.Route())
			require.Contains(t, statuses, 403, "%s: a wrong role answers 403", op.Route())
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func TestEveryOperationIsComplete(t *testing.T) {
	s := loadSpec(t)
	ids := map[string]string{}
	for _, op := range s.Operations() {
		route := op.Route()
		id, _ := op.Doc["operationId"].(string)
		require.NotEmpty(t, id, route)
		require.NotContains(t, ids, id, "%s: operationId %s is also %s's", route, id, ids[id])
		ids[id] = route
		require.NotEmpty(t, op.Doc["summary"], route)

		params, err := s.Parameters(op)
		require.NoError(t, err, route)
		declared := map[string]map[string]any{}
		for _, p := range params {
			declared[p["in"].(string)+":"+p["name"].(string)] = p
		}
		for _, m := range pathParam.FindAllStringSubmatch(op.Path, -1) {
			p, ok := declared["path:"+m[1]]
			require.True(t, ok, "%s: path parameter %s is not declared", route, m[1])
			require.Equal(t, true, p["required"], route)
		}

		statuses := s.Statuses(op)
		for _, st := range []int{429, 500, 503} {
			require.Contains(t, statuses, st, "%s: API Gateway or the function may always answer %d", route, st)
		}
		if op.Method == "POST" || op.Method == "PUT" {
			require.Contains(t, declared, "header:Idempotency-Key", route)
			require.Contains(t, codesOf(t, s, op, 400), "BAD_REQUEST", "%s: a malformed Idempotency-Key", route)
			require.Contains(t, codesOf(t, s, op, 409), "REQUEST_IN_PROGRESS", route)
			require.Contains(t, codesOf(t, s, op, 413), "PAYLOAD_TOO_LARGE", route)
			require.Contains(t, codesOf(t, s, op, 422), "IDEMPOTENCY_KEY_REUSED", route)
		}
		if _, ok := op.Doc["requestBody"]; ok {
			schema, err := s.RequestSchema(op)
			require.NoError(t, err, route)
			require.NotNil(t, schema, route)
		}
		for _, st := range statuses {
			_, ok, err := s.ResponseSchema(op, st)
			require.True(t, ok)
			require.NoError(t, err, "%s %d", route, st)
		}
	}
}

// codesOf collects the error codes a response's schema allows: the enums
// under error.code, through allOf, anyOf and oneOf.
func codesOf(t testing.TB, s *Spec, op Operation, status int) []string {
	t.Helper()
	schema, ok, err := s.ResponseSchema(op, status)
	require.True(t, ok, "%s answers no %d", op.Route(), status)
	require.NoError(t, err)
	var codes []string
	var walk func(v any)
	walk = func(v any) {
		m, _ := v.(map[string]any)
		if ref, ok := m["$ref"].(string); ok && ref != "#/components/schemas/Error" {
			target, err := s.Resolve(ref)
			require.NoError(t, err)
			walk(target)
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			list, _ := m[k].([]any)
			for _, sub := range list {
				walk(sub)
			}
		}
		props, _ := m["properties"].(map[string]any)
		e, _ := props["error"].(map[string]any)
		eprops, _ := e["properties"].(map[string]any)
		code, _ := eprops["code"].(map[string]any)
		enum, _ := code["enum"].([]any)
		for _, c := range enum {
			codes = append(codes, c.(string))
		}
	}
	walk(schema)
	return codes
}

// apiErrorKinds reads the error kinds declared in shared/apierr, the one
// list of codes the handlers can answer with.
func apiErrorKinds(t *testing.T) []string {
	t.Helper()
	root, err := samtemplate.RepoRoot()
	require.NoError(t, err)
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "shared", "apierr", "apierr.go"), nil, 0)
	require.NoError(t, err)
	var kinds []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			require.True(t, ok, "Kind %s is not a string literal", vs.Names[0])
			k, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			kinds = append(kinds, k)
		}
	}
	require.NotEmpty(t, kinds)
	return kinds
}

func TestErrorCodesAreTheHandlers(t *testing.T) {
	s := loadSpec(t)
	enumSchema, err := s.Resolve("#/components/schemas/ErrorCode/enum")
	require.NoError(t, err)
	var enum []string
	for _, c := range enumSchema.([]any) {
		enum = append(enum, c.(string))
	}
	var want []string
	for _, k := range apiErrorKinds(t) {
		// "" is no kind; UNAUTHORIZED never reaches an error body: it is
		// answered as API Gateway's {"message":"Unauthorized"}.
		if k != "" && k != string(apierr.Unauthorized) {
			want = append(want, k)
		}
	}
	require.ElementsMatch(t, want, enum, "the Error schema's codes are shared/apierr's kinds")
}

func TestEachCodeHasItsStatus(t *testing.T) {
	s := loadSpec(t)
	for _, op := range s.Operations() {
		for _, status := range s.Statuses(op) {
			for _, code := range codesOf(t, s, op, status) {
				got := httpapi.StatusOf(apierr.E(apierr.Kind(code)))
				require.Equal(t, got, status, "%s lists %s under %d, but the handlers answer it with %d", op.Route(), code, status, got)
			}
		}
	}
}
