// Package openapi holds Laoyou's OpenAPI contract (openapi.yaml at the
// repository root) to account: its tests check that the spec's routes are
// template.yaml's routes, and that what the real handlers answer, successes
// and errors alike, validates against the spec's schemas.
//
// Validate implements the part of JSON Schema (2020-12, as OpenAPI 3.1 uses
// it) that the spec uses, and refuses every keyword it does not implement,
// so the spec cannot rely on a rule that nothing checks.
package openapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laoyou/laoyou/infra/samtemplate"
)

// FileName is the spec's file at the repository root.
const FileName = "openapi.yaml"

// Spec is a parsed OpenAPI document.
type Spec struct {
	// Doc is the whole document as generic maps, read-only.
	Doc map[string]any

	regexps sync.Map // pattern → *regexp.Regexp
}

// Operation is one method of one path.
type Operation struct {
	Method string // upper case
	Path   string // as the spec writes it, e.g. "/v1/r/{code}"
	Doc    map[string]any
}

// Route is the operation's route key as API Gateway and template.yaml name
// it, e.g. "GET /v1/r/{code}".
func (o Operation) Route() string { return o.Method + " " + o.Path }

// FindPath returns the path of openapi.yaml at the repository root.
func FindPath() (string, error) {
	root, err := samtemplate.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, FileName), nil
}

// Load reads and parses the spec at path.
func Load(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return Parse(raw)
}

// Parse parses a spec from YAML (or JSON) text.
func Parse(raw []byte) (*Spec, error) {
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	doc, ok := plain(v).(map[string]any)
	if !ok {
		return nil, errors.New("openapi: the document is not a mapping")
	}
	return &Spec{Doc: doc}, nil
}

// plain turns what yaml.v3 decodes into JSON's shapes: string keys
// (status codes written as numbers become "200") and float64 numbers, so
// that enum and const compare with decoded JSON.
func plain(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = plain(x)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = plain(x)
		}
		return out
	case []any:
		for i, x := range v {
			v[i] = plain(x)
		}
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return v
}

// httpMethods are the operation keys of a path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Operations lists every operation of the spec's paths, sorted by route.
func (s *Spec) Operations() []Operation {
	paths, _ := s.Doc["paths"].(map[string]any)
	var out []Operation
	for path, item := range paths {
		pi, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := pi[m].(map[string]any); ok {
				out = append(out, Operation{Method: strings.ToUpper(m), Path: path, Doc: op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route() < out[j].Route() })
	return out
}

// Operation finds the operation of a route key, e.g. "POST /v1/groups".
func (s *Spec) Operation(route string) (Operation, bool) {
	method, path, _ := strings.Cut(route, " ")
	for _, op := range s.Operations() {
		if op.Method == method && op.Path == path {
			return op, true
		}
	}
	return Operation{}, false
}

// Statuses lists the statuses an operation answers with, sorted.
func (s *Spec) Statuses(op Operation) []int {
	responses, _ := op.Doc["responses"].(map[string]any)
	var out []int
	for k := range responses {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// ResponseSchema is the JSON schema of op's response with status; ok is
// false when the operation does not list the status. A 204 has no body and
// no schema (nil).
func (s *Spec) ResponseSchema(op Operation, status int) (schema any, ok bool, err error) {
	responses, _ := op.Doc["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(status)]
	if !ok {
		return nil, false, nil
	}
	resp, err := s.deref(r)
	if err != nil {
		return nil, true, err
	}
	if status == http.StatusNoContent {
		if _, has := resp["content"]; has {
			return nil, true, errors.New("openapi: a 204 answer has no content")
		}
		return nil, true, nil // no body, no schema
	}
	schema, err = jsonSchemaOf(resp)
	return schema, true, err
}

// RequestSchema is the JSON schema of op's request body, or nil when it
// takes none.
func (s *Spec) RequestSchema(op Operation) (any, error) {
	body, ok := op.Doc["requestBody"]
	if !ok {
		return nil, nil
	}
	b, err := s.deref(body)
	if err != nil {
		return nil, err
	}
	return jsonSchemaOf(b)
}

// Parameters are op's parameters, references resolved.
func (s *Spec) Parameters(op Operation) ([]map[string]any, error) {
	list, _ := op.Doc["parameters"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, p := range list {
		m, err := s.deref(p)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func jsonSchemaOf(obj map[string]any) (any, error) {
	content, _ := obj["content"].(map[string]any)
	media, ok := content["application/json"].(map[string]any)
	if !ok && len(content) > 0 && binaryOnly(content) {
		return nil, nil // an image: bytes, no JSON schema
	}
	if !ok {
		return nil, errors.New("openapi: no application/json content")
	}
	schema, ok := media["schema"]
	if !ok {
		return nil, errors.New("openapi: application/json content without a schema")
	}
	return schema, nil
}

// binaryOnly reports whether every media type of content is an image.
func binaryOnly(content map[string]any) bool {
	for mt := range content {
		if !strings.HasPrefix(mt, "image/") {
			return false
		}
	}
	return true
}

// ContentTypes lists the media types op's answer with status may have.
func (s *Spec) ContentTypes(op Operation, status int) []string {
	responses, _ := op.Doc["responses"].(map[string]any)
	resp, err := s.deref(responses[strconv.Itoa(status)])
	if err != nil {
		return nil
	}
	content, _ := resp["content"].(map[string]any)
	var out []string
	for mt := range content {
		out = append(out, mt)
	}
	return out
}

// deref follows a {"$ref": ...} object (responses, parameters, request
// bodies) to its target.
func (s *Spec) deref(v any) (map[string]any, error) {
	for range 8 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("openapi: %v is not an object", v)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if v, err = s.Resolve(ref); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("openapi: $ref chain too long")
}

// Resolve follows a local reference ("#/components/schemas/Error", any
// JSON pointer into the document).
func (s *Spec) Resolve(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("openapi: only local references are supported, not %q", ref)
	}
	var cur any = s.Doc
	if ptr == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if t, err := url.PathUnescape(tok); err == nil {
			tok = t
		}
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("openapi: %s does not resolve (no %q)", ref, tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("openapi: %s does not resolve (no item %q)", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("openapi: %s does not resolve", ref)
		}
	}
	return cur, nil
}

// annotations are keywords that say something to people and tools but
// constrain nothing.
var annotations = map[string]bool{
	"description": true, "title": true, "examples": true, "example": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true, "$comment": true,
}

// SchemaError is a value that does not match its schema, at Path (a JSON
// path such as "$.members[0].displayName").
type SchemaError struct {
	Path string
	Msg  string
}

func (e *SchemaError) Error() string { return e.Path + ": " + e.Msg }

// Validate checks a decoded JSON value (what encoding/json gives for any)
// against schema. It implements $ref, type (a name or a list of names),
// enum, const, properties, required, additionalProperties, items, allOf,
// anyOf, oneOf, format date-time and uri, minimum, maximum, minLength,
// maxLength, pattern, minItems and maxItems; any other keyword is an error
// (x- extensions and annotations aside).
func (s *Spec) Validate(schema, value any) error {
	return s.validate(schema, value, "$", 0)
}

func (s *Spec) validate(schema, v any, path string, depth int) error {
	if depth > 64 {
		return &SchemaError{path, "schema nests too deep (a $ref cycle?)"}
	}
	if b, ok := schema.(bool); ok {
		if !b {
			return &SchemaError{path, "no value is allowed here"}
		}
		return nil
	}
	sch, ok := schema.(map[string]any)
	if !ok {
		return &SchemaError{path, fmt.Sprintf("malformed schema %v", schema)}
	}
	// Keywords in a fixed order, so the first error reported is stable.
	keys := make([]string, 0, len(sch))
	for k := range sch {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if annotations[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		if err := s.keyword(k, sch, v, path, depth); err != nil {
			return err
		}
	}
	return nil
}

func (s *Spec) keyword(k string, sch map[string]any, v any, path string, depth int) error {
	arg := sch[k]
	switch k {
	case "$ref":
		ref, _ := arg.(string)
		target, err := s.Resolve(ref)
		if err != nil {
			return &SchemaError{path, err.Error()}
		}
		return s.validate(target, v, path, depth+1)
	case "type":
		return checkType(arg, v, path)
	case "enum":
		list, _ := arg.([]any)
		for _, want := range list {
			if equal(want, v) {
				return nil
			}
		}
		return &SchemaError{path, fmt.Sprintf("%s is not one of %v", show(v), list)}
	case "const":
		if !equal(arg, v) {
			return &SchemaError{path, fmt.Sprintf("%s is not %s", show(v), show(arg))}
		}
	case "properties":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil // type says whether it must be an object
		}
		props, _ := arg.(map[string]any)
		for _, name := range sortedKeys(props) {
			if x, ok := obj[name]; ok {
				if err := s.validate(props[name], x, path+"."+name, depth+1); err != nil {
					return err
				}
			}
		}
	case "required":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		names, _ := arg.([]any)
		for _, n := range names {
			if _, ok := obj[fmt.Sprint(n)]; !ok {
				return &SchemaError{path, fmt.Sprintf("required property %q is missing", n)}
			}
		}
	case "additionalProperties":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		props, _ := sch["properties"].(map[string]any)
		for _, name := range sortedKeys(obj) {
			if _, declared := props[name]; declared {
				continue
			}
			if arg == false {
				return &SchemaError{path, fmt.Sprintf("property %q is not in the schema", name)}
			}
			if err := s.validate(arg, obj[name], path+"."+name, depth+1); err != nil {
				return err
			}
		}
	case "items":
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, x := range arr {
			if err := s.validate(arg, x, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	case "allOf":
		list, _ := arg.([]any)
		for _, sub := range list {
			if err := s.validate(sub, v, path, depth+1); err != nil {
				return err
			}
		}
	case "anyOf", "oneOf":
		list, _ := arg.([]any)
		matched := 0
		var errs []string
		for _, sub := range list {
			if err := s.validate(sub, v, path, depth+1); err != nil {
				errs = append(errs, err.Error())
			} else {
				matched++
			}
		}
		switch {
		case matched == 0:
			return &SchemaError{path, fmt.Sprintf("matches none of %s: %s", k, strings.Join(errs, "; "))}
		case k == "oneOf" && matched > 1:
			return &SchemaError{path, fmt.Sprintf("matches %d schemas of oneOf, not exactly one", matched)}
		}
	case "format":
		str, ok := v.(string)
		if !ok {
			return nil
		}
		switch arg {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return &SchemaError{path, fmt.Sprintf("%q is not an RFC 3339 time", str)}
			}
		case "uri":
			if u, err := url.Parse(str); err != nil || !u.IsAbs() {
				return &SchemaError{path, fmt.Sprintf("%q is not an absolute URI", str)}
			}
		default:
			return &SchemaError{path, fmt.Sprintf("format %v is not supported by this validator", arg)}
		}
	case "minimum", "maximum":
		n, ok := v.(float64)
		if !ok {
			return nil
		}
		bound, _ := arg.(float64)
		if (k == "minimum" && n < bound) || (k == "maximum" && n > bound) {
			return &SchemaError{path, fmt.Sprintf("%v is out of range (%s %v)", n, k, bound)}
		}
	case "minLength", "maxLength":
		str, ok := v.(string)
		if !ok {
			return nil
		}
		n := float64(len([]rune(str)))
		bound, _ := arg.(float64)
		if (k == "minLength" && n < bound) || (k == "maxLength" && n > bound) {
			return &SchemaError{path, fmt.Sprintf("%q has %v characters (%s %v)", str, n, k, bound)}
		}
	case "minItems", "maxItems":
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		n := float64(len(arr))
		bound, _ := arg.(float64)
		if (k == "minItems" && n < bound) || (k == "maxItems" && n > bound) {
			return &SchemaError{path, fmt.Sprintf("%v items (%s %v)", n, k, bound)}
		}
	case "pattern":
		str, ok := v.(string)
		if !ok {
			return nil
		}
		re, err := s.regexp(fmt.Sprint(arg))
		if err != nil {
			return &SchemaError{path, err.Error()}
		}
		if !re.MatchString(str) {
			return &SchemaError{path, fmt.Sprintf("%q does not match %s", str, re)}
		}
	default:
		return &SchemaError{path, fmt.Sprintf("keyword %q is not supported by this validator", k)}
	}
	return nil
}

func (s *Spec) regexp(pattern string) (*regexp.Regexp, error) {
	if re, ok := s.regexps.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	s.regexps.Store(pattern, re)
	return re, nil
}

func checkType(arg, v any, path string) error {
	var names []string
	switch a := arg.(type) {
	case string:
		names = []string{a}
	case []any:
		for _, n := range a {
			names = append(names, fmt.Sprint(n))
		}
	}
	for _, n := range names {
		if hasType(n, v) {
			return nil
		}
	}
	return &SchemaError{path, fmt.Sprintf("%s is not of type %s", show(v), strings.Join(names, " or "))}
}

func hasType(name string, v any) bool {
	switch name {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

// equal compares decoded JSON values.
func equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, x := range a {
			if !equal(x, bm[k]) {
				return false
			}
		}
		return true
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !equal(a[i], bl[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// supported are the keywords Validate implements.
var supported = map[string]bool{
	"$ref": true, "type": true, "enum": true, "const": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "allOf": true, "anyOf": true, "oneOf": true,
	"format": true, "minimum": true, "maximum": true, "minLength": true, "maxLength": true,
	"pattern": true, "minItems": true, "maxItems": true,
}

// Lint checks every schema of the document, wherever it sits (components,
// parameters, request and response bodies, webhooks): each keyword is one
// Validate implements, each $ref resolves, each pattern compiles and each
// example validates.
func (s *Spec) Lint() error {
	var errs []error
	var walkSchema func(v any, at string)
	walkSchema = func(v any, at string) {
		if _, ok := v.(bool); ok {
			return
		}
		sch, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: a schema must be an object or a boolean", at))
			return
		}
		for _, k := range sortedKeys(sch) {
			arg := sch[k]
			switch {
			case k == "examples":
				list, _ := arg.([]any)
				for i, ex := range list {
					if err := s.Validate(sch, ex); err != nil {
						errs = append(errs, fmt.Errorf("%s: example %d: %w", at, i, err))
					}
				}
			case annotations[k] || strings.HasPrefix(k, "x-"):
			case !supported[k]:
				errs = append(errs, fmt.Errorf("%s: keyword %q is not supported by the validator", at, k))
			case k == "$ref":
				if _, err := s.Resolve(fmt.Sprint(arg)); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", at, err))
				}
			case k == "pattern":
				if _, err := s.regexp(fmt.Sprint(arg)); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", at, err))
				}
			case k == "properties":
				props, _ := arg.(map[string]any)
				for _, name := range sortedKeys(props) {
					walkSchema(props[name], at+"/properties/"+name)
				}
			case k == "additionalProperties" || k == "items":
				walkSchema(arg, at+"/"+k)
			case k == "allOf" || k == "anyOf" || k == "oneOf":
				list, _ := arg.([]any)
				for i, sub := range list {
					walkSchema(sub, fmt.Sprintf("%s/%s/%d", at, k, i))
				}
			}
		}
	}
	// Every "schema" member anywhere outside components/schemas holds a
	// schema; components/schemas holds only schemas.
	var walkDoc func(v any, at string)
	walkDoc = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(v) {
				switch {
				case k == "schema":
					walkSchema(v[k], at+"/schema")
				case k == "$ref" && !strings.Contains(at, "/schema"):
					if _, err := s.Resolve(fmt.Sprint(v[k])); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", at, err))
					}
				default:
					walkDoc(v[k], at+"/"+k)
				}
			}
		case []any:
			for i, x := range v {
				walkDoc(x, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	components, _ := s.Doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for _, name := range sortedKeys(schemas) {
		walkSchema(schemas[name], "#/components/schemas/"+name)
	}
	for _, part := range []string{"paths", "webhooks"} {
		walkDoc(s.Doc[part], "#/"+part)
	}
	for _, part := range []string{"parameters", "responses", "requestBodies"} {
		walkDoc(components[part], "#/components/"+part)
	}
	return errors.Join(errs...)
}
