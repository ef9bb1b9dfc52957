package tomlfile

import (
	"fmt"
	"reflect"
	"strings"
)

// caseErrors reports the keys that name a field of t only when compared
// without regard to case. go-toml decodes those, as encoding/json does,
// but TOML keys are case-sensitive, and a key written "StopTimeout" would
// escape every check that looks "stopTimeout" up in the index.
func (x *Index) caseErrors(t reflect.Type) []error {
	var errs []error
	seen := map[string]bool{}
	for _, path := range x.order {
		segs := x.segs[path]
		n, want := misspelled(t, segs)
		if n < 0 {
			continue
		}
		bad := keysOf(segs[:n+1])
		if seen[bad] {
			continue
		}
		seen[bad] = true
		// The first path below the bad key, in document order, is
		// where the file first writes it.
		l := x.at[path]
		errs = append(errs, &Error{File: x.file, Line: l.Line, Col: l.Col,
			Err: fmt.Errorf("unknown key %q; did you mean %q? (keys are case-sensitive)", bad, joinKey(keysOf(segs[:n]), want))})
	}
	return errs
}

// misspelled follows segs through type t and returns the index of the
// first key that matches a struct field only without regard to case, and
// that field's key; -1 when there is none.
func misspelled(t reflect.Type, segs []segment) (int, string) {
	for i, s := range segs {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case s.elem && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
			t = t.Elem()
		case s.elem:
			return -1, ""
		case t.Kind() == reflect.Map:
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			f, exact := field(t, s.key)
			if f == nil {
				return -1, "" // unknown: go-toml reports it
			}
			if !exact {
				return i, tomlKey(*f)
			}
			t = f.Type
		default:
			return -1, ""
		}
	}
	return -1, ""
}

// field returns the field of struct t that go-toml decodes key into, and
// whether key names it exactly.
func field(t reflect.Type, key string) (*reflect.StructField, bool) {
	var folded *reflect.StructField
	for _, f := range reflect.VisibleFields(t) {
		name := tomlKey(f)
		if !f.IsExported() || name == "-" || f.Anonymous && f.Tag.Get("toml") == "" {
			continue
		}
		if name == key {
			return &f, true
		}
		if folded == nil && strings.EqualFold(name, key) {
			folded = &f
		}
	}
	return folded, false
}

// tomlKey is the key of field f: its toml tag's name, or its Go name.
func tomlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// keysOf is segs as a user writes the key: "interfaces.macvtap.link".
func keysOf(segs []segment) string {
	var keys []string
	for _, s := range segs {
		if !s.elem {
			keys = append(keys, s.key)
		}
	}
	return strings.Join(keys, ".")
}
