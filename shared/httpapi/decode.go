package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/laoyou/laoyou/shared/apierr"
)

// Validator is a request body that checks its own fields after decoding:
// required fields present, values in range. It returns a BAD_REQUEST error
// naming the field.
type Validator interface {
	Valid() error
}

// Decode reads the JSON body into v strictly: one JSON object, no unknown
// fields, no key twice in an object (nor two keys that differ only in
// case), every key spelled exactly as declared, every value of its
// declared type, then v.Valid().
func Decode(r *Request, v Validator) error {
	const op = apierr.Op("httpapi.Decode")
	body := bytes.TrimSpace(r.Body)
	if len(body) == 0 {
		return apierr.E(op, apierr.BadRequest, "a JSON request body is required")
	}
	if body[0] != '{' {
		return apierr.E(op, apierr.BadRequest, "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apierr.E(op, apierr.BadRequest, describe(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierr.E(op, apierr.BadRequest, "unexpected data after the JSON object")
	}
	if err := checkKeys(body, reflect.TypeOf(v)); err != nil {
		return apierr.E(op, apierr.BadRequest, err.Error())
	}
	if err := v.Valid(); err != nil {
		return apierr.E(op, apierr.BadRequest, err)
	}
	return nil
}

// describe turns a decoding error into a message a client developer can act
// on, naming the field where there is one.
func describe(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be %s", typ.Field, jsonType(typ.Type.Kind().String()))
		}
		return "the request body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of body"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}
