package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// encoding/json keeps the last of two equal keys and matches keys to
// fields regardless of case, so {"code":"a","Code":"b"} decodes to "b"
// while a cache, a signature or a log in front of the handler may have
// read "a". checkKeys refuses such bodies. It runs after the decoder has
// accepted the body, so it walks well-formed JSON: one pass over the bytes
// beside the target type, with no values built.

// checkKeys reports the first object in body holding a key twice or two
// keys that differ only in case, or a key that names a field of t only
// case-insensitively. Objects decoded into maps or interfaces are checked
// for repeats only.
func checkKeys(body []byte, t reflect.Type) error {
	w := keyWalker{b: body}
	return w.value(t, "")
}

// keyWalker reads one well-formed JSON value; malformed input ends the walk
// with an error rather than a panic.
type keyWalker struct {
	b []byte
	i int
}

var errMalformed = errors.New("malformed JSON")

func (w *keyWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *keyWalker) value(t reflect.Type, path string) error {
	w.space()
	if w.i >= len(w.b) {
		return errMalformed
	}
	switch w.b[w.i] {
	case '{':
		return w.object(deref(t), path)
	case '[':
		return w.array(deref(t), path)
	case '"':
		_, err := w.str()
		return err
	}
	for w.i < len(w.b) { // a number, true, false or null
		switch w.b[w.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return nil
		}
		w.i++
	}
	return nil
}

// pathIfNested is the path of the value ahead if it is an object or an
// array (whose keys an error may name), else "": scalars need none, and
// most values are scalars.
func (w *keyWalker) pathIfNested(path func() string) string {
	w.space()
	if w.i < len(w.b) && (w.b[w.i] == '{' || w.b[w.i] == '[') {
		return path()
	}
	return ""
}

// str reads a string and returns its raw bytes between the quotes.
func (w *keyWalker) str() ([]byte, error) {
	start := w.i + 1
	for w.i = start; w.i < len(w.b); w.i++ {
		switch w.b[w.i] {
		case '\\':
			w.i++
		case '"':
			w.i++
			return w.b[start : w.i-1], nil
		}
	}
	return nil, errMalformed
}

func (w *keyWalker) array(t reflect.Type, path string) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && !opaque(t) {
		elem = t.Elem()
	}
	w.i++ // [
	for n := 0; ; n++ {
		w.space()
		if w.i < len(w.b) && w.b[w.i] == ']' {
			w.i++
			return nil
		}
		if err := w.value(elem, w.pathIfNested(func() string { return path + "[" + strconv.Itoa(n) + "]" })); err != nil {
			return err
		}
		w.space()
		if w.i < len(w.b) && w.b[w.i] == ',' {
			w.i++
		} else if w.i >= len(w.b) || w.b[w.i] != ']' {
			return errMalformed
		}
	}
}

// object walks one JSON object, refusing a key seen before in any case and
// a key that names a struct field in another case. It is one piece: a
// byte-level state machine reads best whole, and its key set stays a local
// array (no allocation for the usual few keys).
func (w *keyWalker) object(t reflect.Type, path string) error {
	var fields map[string]reflect.Type // exact names, when t is a struct
	var elem reflect.Type              // the values' type, when t is a map
	if t != nil && !opaque(t) {
		switch t.Kind() {
		case reflect.Struct:
			fields = structFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	// The keys so far: compared pairwise while few (no allocation), by
	// their case folding in a map once many.
	var few [16][]byte
	seen := few[:0]
	var many map[string][]byte
	w.i++ // {
	for {
		w.space()
		if w.i >= len(w.b) {
			return errMalformed
		}
		switch w.b[w.i] {
		case '}':
			w.i++
			return nil
		case ',':
			w.i++
			continue
		case '"':
		default:
			return errMalformed
		}
		key, err := w.str()
		if err != nil {
			return err
		}
		if bytes.IndexByte(key, '\\') >= 0 {
			// An escaped key ("\u0063ode") is the key it spells.
			var s string
			if err := json.Unmarshal(w.b[w.i-len(key)-2:w.i], &s); err != nil {
				return errMalformed
			}
			key = []byte(s)
		}
		var first []byte
		if many != nil {
			f := foldKey(string(key))
			first = many[f]
			many[f] = key
		} else {
			for _, k := range seen {
				if bytes.EqualFold(k, key) {
					first = k
					break
				}
			}
			if seen = append(seen, key); len(seen) > len(few) {
				many = make(map[string][]byte, 2*len(seen))
				for _, k := range seen {
					many[foldKey(string(k))] = k
				}
			}
		}
		if first != nil {
			if bytes.Equal(first, key) {
				return fmt.Errorf("field %q appears twice", join(path, string(key)))
			}
			return fmt.Errorf("fields %q and %q differ only in case", join(path, string(first)), join(path, string(key)))
		}
		valueType := elem
		if fields != nil {
			ft, ok := fields[string(key)]
			if !ok {
				// Unknown keys were refused by the decoder: this one names a
				// field in another case.
				return fmt.Errorf("unknown field %q", join(path, string(key)))
			}
			valueType = ft
		}
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return errMalformed
		}
		w.i++
		if err := w.value(valueType, w.pathIfNested(func() string { return join(path, string(key)) })); err != nil {
			return err
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// opaque reports whether t decodes itself (json.RawMessage, time.Time, ...)
// or takes anything (interfaces): its keys are checked for repeats only.
func opaque(t reflect.Type) bool {
	return t.Kind() == reflect.Interface || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// structFields maps the JSON names of t's fields, as encoding/json reads
// them (tags, embedded structs promoted), to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	addFields(t, fields, 0)
	fieldCache.Store(t, fields)
	return fields
}

func addFields(t reflect.Type, fields map[string]reflect.Type, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if ft := deref(f.Type); ft.Kind() == reflect.Struct && depth < 8 {
				addFields(ft, fields, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, shadowed := fields[name]; !shadowed || depth == 0 {
			fields[name] = f.Type
		}
	}
}

// foldKey maps every key that strings.EqualFold matches to one string: each
// rune becomes the smallest of its simple case-folding orbit (K, k and the
// Kelvin sign all become K).
func foldKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); {
		if c := key[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A' // an ASCII letter's orbit starts with its upper case
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(key[i:])
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
		i += n
	}
	return b.String()
}
