// Package openapi holds Laoyou's OpenAPI contract (openapi.yaml at the
// repository root) to account: its tests check that the spec's routes are
// template.yaml's routes, and that what the real handlers answer, successes
// and errors alike, validates against the spec's schemas.
//
// Validate checks values with libopenapi-validator (JSON Schema 2020-12, as
// OpenAPI 3.1 uses it, formats asserted); it and Lint refuse a keyword
// outside the spec's vocabulary, so a misspelt keyword cannot pass as a
// rule. Only tests import this package: no function links it.
package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	"gopkg.in/yaml.v3"

	"github.com/laoyou/laoyou/infra/samtemplate"
)

// FileName is the spec's file at the repository root.
const FileName = "openapi.yaml"

// Spec is a parsed OpenAPI document.
type Spec struct {
	// Doc is the whole document as generic maps, read-only.
	Doc map[string]any

	schemas schema_validation.SchemaValidator
	built   sync.Map // a schema's JSON → *base.Schema
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
	return &Spec{Doc: doc, schemas: schema_validation.NewSchemaValidator(config.WithFormatAssertions())}, nil
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

// Validate checks a decoded JSON value (what encoding/json gives for any)
// against schema (a schema of the document, or one whose $refs point into
// it) with libopenapi-validator, formats asserted. It first refuses a
// keyword outside vocabulary, as Lint does, so no schema relies on a rule
// that the spec's checks do not exercise.
func (s *Spec) Validate(schema, value any) error {
	if err := s.checkSchema(schema, "$", false); err != nil {
		return err
	}
	compiled, err := s.compiled(schema)
	if err != nil {
		return err
	}
	ok, failures := s.schemas.ValidateSchemaObject(compiled, value)
	if ok {
		return nil
	}
	return schemaErrors(failures)
}

// compiled is schema as libopenapi models it: the document with schema
// added as one more component, so its $refs resolve as they do in place.
// Each distinct schema is built once.
func (s *Spec) compiled(schema any) (*base.Schema, error) {
	key, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if c, ok := s.built.Load(string(key)); ok {
		return c.(*base.Schema), nil
	}
	doc := maps.Clone(s.Doc)
	components, _ := doc["components"].(map[string]any)
	components = maps.Clone(components)
	if components == nil {
		components = map[string]any{}
	}
	schemas, _ := components["schemas"].(map[string]any)
	schemas = maps.Clone(schemas)
	if schemas == nil {
		schemas = map[string]any{}
	}
	const name = "x-validated"
	schemas[name] = schema
	components["schemas"] = schemas
	doc["components"] = components
	if doc["openapi"] == nil {
		doc["openapi"] = "3.1.0"
	}
	if doc["info"] == nil {
		doc["info"] = map[string]any{"title": "schema", "version": "0"}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	d, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	model, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	proxy := model.Model.Components.Schemas.GetOrZero(name)
	if proxy == nil {
		return nil, errors.New("openapi: the schema did not build")
	}
	c := proxy.Schema()
	if c == nil {
		return nil, fmt.Errorf("openapi: the schema did not build: %v", proxy.GetBuildError())
	}
	s.built.Store(string(key), c)
	return c, nil
}

// schemaErrors turns the validator's report into one error, each failure
// as "$.path: reason".
func schemaErrors(failures []*liberrors.ValidationError) error {
	var errs []error
	for _, f := range failures {
		if len(f.SchemaValidationErrors) == 0 {
			errs = append(errs, fmt.Errorf("$: %s", f.Reason))
		}
		for _, sf := range f.SchemaValidationErrors {
			path := "$"
			for _, p := range sf.InstancePath {
				if _, err := strconv.Atoi(p); err == nil {
					path += "[" + p + "]"
				} else {
					path += "." + p
				}
			}
			errs = append(errs, fmt.Errorf("%s: %s", path, sf.Reason))
		}
	}
	if len(errs) == 0 {
		return errors.New("openapi: the value does not match its schema")
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// vocabulary are the JSON Schema keywords the spec may use. JSON Schema
// ignores a keyword it does not know, so a misspelt one ("requried") would
// constrain nothing; and the spec keeps to keywords that its checks, here
// and in Prism, exercise.
var vocabulary = map[string]bool{
	"$ref": true, "type": true, "enum": true, "const": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "allOf": true, "anyOf": true, "oneOf": true,
	"format": true, "minimum": true, "maximum": true, "minLength": true, "maxLength": true,
	"pattern": true, "minItems": true, "maxItems": true,
}

// checkSchema checks a schema and those nested in it: each keyword is in
// vocabulary, each $ref resolves, each pattern compiles and, with
// examples, each example validates.
func (s *Spec) checkSchema(v any, at string, examples bool) error {
	if _, ok := v.(bool); ok {
		return nil
	}
	sch, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: a schema must be an object or a boolean", at)
	}
	var errs []error
	for _, k := range sortedKeys(sch) {
		arg := sch[k]
		switch {
		case k == "examples" && examples:
			list, _ := arg.([]any)
			for i, ex := range list {
				if err := s.Validate(sch, ex); err != nil {
					errs = append(errs, fmt.Errorf("%s: example %d: %w", at, i, err))
				}
			}
		case annotations[k] || strings.HasPrefix(k, "x-"):
		case !vocabulary[k]:
			errs = append(errs, fmt.Errorf("%s: keyword %q is not supported: the spec keeps to its vocabulary", at, k))
		case k == "$ref":
			if _, err := s.Resolve(fmt.Sprint(arg)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
			}
		case k == "pattern":
			if _, err := regexp.Compile(fmt.Sprint(arg)); err != nil {
				errs = append(errs, fmt.Errorf("%s: pattern: %w", at, err))
			}
		case k == "properties":
			props, _ := arg.(map[string]any)
			for _, name := range sortedKeys(props) {
				errs = append(errs, s.checkSchema(props[name], at+"/properties/"+name, examples))
			}
		case k == "additionalProperties" || k == "items":
			errs = append(errs, s.checkSchema(arg, at+"/"+k, examples))
		case k == "allOf" || k == "anyOf" || k == "oneOf":
			list, _ := arg.([]any)
			for i, sub := range list {
				errs = append(errs, s.checkSchema(sub, fmt.Sprintf("%s/%s/%d", at, k, i), examples))
			}
		}
	}
	return errors.Join(errs...)
}

// Lint checks every schema of the document, wherever it sits (components,
// parameters, request and response bodies, webhooks), with checkSchema.
func (s *Spec) Lint() error {
	var errs []error
	walkSchema := func(v any, at string) {
		if err := s.checkSchema(v, at, true); err != nil {
			errs = append(errs, err)
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
