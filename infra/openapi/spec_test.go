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
		{"missing required", "Thing", `{"id":"ab"}`, `$: required property "when" is missing`},
		{"unknown property", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","extra":1}`, `property "extra" is not in the schema`},
		{"wrong type", "Thing", `{"id":5,"when":"2026-11-23T09:30:00Z"}`, `$.id: 5 is not of type string`},
		{"not an integer", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","count":1.5}`, "not of type integer"},
		{"below minimum", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","count":-1}`, "out of range"},
		{"above maximum", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","count":10}`, "out of range"},
		{"too short", "Thing", `{"id":"a","when":"2026-11-23T09:30:00Z"}`, "minLength"},
		{"too long", "Thing", `{"id":"abcde","when":"2026-11-23T09:30:00Z"}`, "maxLength"},
		{"pattern", "Thing", `{"id":"AB","when":"2026-11-23T09:30:00Z"}`, "does not match"},
		{"date-time", "Thing", `{"id":"ab","when":"23/11/2026"}`, "not an RFC 3339 time"},
		{"uri", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","link":"/relative"}`, "not an absolute URI"},
		{"enum through $ref", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","code":"C"}`, `$.code: "C" is not one of`},
		{"null where not allowed", "Thing", `{"id":null,"when":"2026-11-23T09:30:00Z"}`, "null is not of type string"},
		{"type list", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","note":3}`, "not of type string or null"},
		{"array items", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","tags":["x",1]}`, "$.tags[1]"},
		{"maxItems", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","tags":["x","y","z"]}`, "maxItems"},
		{"const", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","kind":"other"}`, `"other" is not "fixed"`},
		{"oneOf none", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","either":true}`, "matches none of oneOf"},
		{"anyOf none", "Thing", `{"id":"ab","when":"2026-11-23T09:30:00Z","maybe":"C"}`, "matches none of anyOf"},
		{"allOf narrows", "Narrowed", `{"id":"ab","when":"2026-11-23T09:30:00Z","code":"A"}`, `"A" is not one of [B]`},
		{"allOf holds", "Narrowed", `{"id":"ab","when":"2026-11-23T09:30:00Z","code":"B"}`, ""},
		{"additionalProperties schema", "Open", `{"a":1,"b":2}`, ""},
		{"additionalProperties schema fails", "Open", `{"a":"x"}`, `$.a: "x" is not of type integer`},
		{"not an object", "Thing", `[]`, "an array is not of type object"},
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
	require.ErrorContains(t, s.Validate(schema, 3.0), "not exactly one")
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
