package openapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// toyDoc is a spec with the shapes the validator must handle.
const toyDoc = `
components:
  schemas:
    Code: {type: string, enum: [A, B]}
    Thing:
      type: object
      required: [id, when]
      additionalProperties: false
      properties:
        id: {type: string, minLength: 2, maxLength: 4, pattern: '^[a-z]+$'}
        when: {type: string, format: date-time}
        count: {type: integer, minimum: 0, maximum: 9}
        code: {$ref: '#/components/schemas/Code'}
        note: {type: [string, 'null']}
        tags: {type: array, maxItems: 2, items: {type: string}}
        link: {type: string, format: uri}
        kind: {const: fixed}
        either:
          oneOf:
            - {type: string}
            - {type: integer}
        maybe:
          anyOf:
            - {$ref: '#/components/schemas/Code'}
            - {type: 'null'}
    Narrowed:
      allOf:
        - $ref: '#/components/schemas/Thing'
        - properties: {code: {enum: [B]}}
    Open:
      type: object
      additionalProperties: {type: integer}
`

func toySpec(t *testing.T) *Spec {
	t.Helper()
	s, err := Parse([]byte(toyDoc))
	require.NoError(t, err)
	require.NoError(t, s.Lint())
	return s
}

func TestValidate(t *testing.T) {
	s := toySpec(t)
	tests := []struct {
		name, schema, value string
		wantErr             string // "" for valid; else a part of the error
	}{
		{"minimal", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z"}`, ""},
		{"every field", "Thing", `{"id":"abcd","when":"2026-11-23T09:30:00.123456789Z","count":9,"code":"A","note":null,"tags":["x"],"link":"https://h5.example.com/s?g=1","kind":"fixed","either":3,"maybe":null}`, ""},
		{"missing required", "Thing", `{"id":"ab"}`, `$: missing property 'when'`},
		{"unknown property", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","extra":1}`, `additional properties 'extra' not allowed`},
		{"wrong type", "Thing", `{"id":5,"when":"2026-11-23T09:30:00Z"}`, "$.id: got number, want string"},
		{"not an integer", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","count":1.5}`, "$.count: got number, want integer"},
		{"below minimum", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","count":-1}`, "$.count: minimum: got -1, want 0"},
		{"above maximum", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","count":10}`, "$.count: maximum: got 10, want 9"},
		{"too short", "Thing", `{"id":"a","when":"2026-11-23T09:30:00Z"}`, "minLength"},
		{"too long", "Thing", `{"id":"abcde","when":"2026-11-23T09:30:00Z"}`, "maxLength"},
		{"pattern", "Thing", `{"id":"AB","when":"2026-11-23T09:30:00Z"}`, "does not match"},
		{"date-time", "Thing", `{"id":"ab","when":"23/11/2026"}`, "$.when: '23/11/2026' is not valid date-time"},
		{"uri", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","link":"/relative"}`, "$.link: '/relative' is not valid uri: relative url"},
		{"enum through $ref", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","code":"C"}`, `$.code: value must be one of 'A', 'B'`},
		{"null where not allowed", "Thing", `{"id":null,"when":"2026-11-23T09:30:00Z"}`, "$.id: got null, want string"},
		{"type list", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","note":3}`, "$.note: got number, want null or string"},
		{"array items", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","tags":["x",1]}`, "$.tags[1]"},
		{"maxItems", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","tags":["x","y","z"]}`, "maxItems"},
		{"const", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","kind":"other"}`, `$.kind: value must be 'fixed'`},
		{"oneOf none", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","either":true}`, "$.either: got boolean, want string\n$.either: got boolean, want integer"},
		{"anyOf none", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","maybe":"C"}`, "$.maybe: value must be one of 'A', 'B'\n$.maybe: got string, want null"},
		{"allOf narrows", "Narrowed", `{"id":"ab","when":"2026-11-23T09:30:00Z","code":"A"}`, `$.code: value must be 'B'`},
		{"allOf holds", "Narrowed", `{"id":"ab","when":"2026-11-23T09:30:00Z","code":"B"}`, ""},
		{"additionalProperties schema", "Open", `{"a":1,"b":2}`, ""},
		{"additionalProperties schema fails", "Open", `{"a":"x"}`, "$.a: got string, want integer"},
		{"not an object", "Thing", `[]`, "$: got array, want object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			require.NoError(t, json.Unmarshal([]byte(tc.value), &v))
			err := s.Validate(map[string]any{"$ref": "#/components/schemas/" + tc.schema}, v)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestOneOfMatchingTwiceFails(t *testing.T) {
	s := toySpec(t)
	schema := map[string]any{"oneOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "number"}}}
	require.ErrorContains(t, s.Validate(schema, 3.0), "$: 'oneOf' failed, subschemas 0, 1 matched")
}

func TestUnsupportedKeywordsAreRefused(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown keyword", `components: {schemas: {X: {type: object, requried: [a]}}}`, `keyword "requried" is not supported`},
		{"unresolved $ref", `components: {schemas: {X: {$ref: '#/components/schemas/Y'}}}`, "does not resolve"},
		{"bad pattern", `components: {schemas: {X: {type: string, pattern: '('}}}`, "pattern"},
		{"inside a response", `paths: {/x: {get: {responses: {'200': {content: {application/json: {schema: {type: string, formatt: x}}}}}}}}`, `keyword "formatt"`},
		{"example that does not validate", `components: {schemas: {X: {type: string, pattern: '^a', examples: [b]}}}`, "example 0"},
		{"unresolved response $ref", `paths: {/x: {get: {responses: {'200': {$ref: '#/components/responses/Nope'}}}}}`, "does not resolve"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(tc.doc))
			require.NoError(t, err)
			require.ErrorContains(t, s.Lint(), tc.want)
		})
	}
	s, err := Parse([]byte(`{}`))
	require.NoError(t, err)
	require.ErrorContains(t, s.Validate(map[string]any{"uniqueItems": true}, []any{}), `keyword "uniqueItems" is not supported`,
		"Validate refuses what it cannot check, even where Lint was not run")
}
