// Package tomlfile decodes configuration files written in TOML strictly
// and locates every problem as "FILE:LINE:COL: KEY: message", both those
// go-toml finds while decoding and those a validator finds afterwards.
// The spec parser and the host configuration share it, so a user reads
// the same kind of error from both.
package tomlfile

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// ErrUnknownKeys is what Decode's error matches (errors.Is) when its only
// problems are keys v has no field for, found after everything else was
// decoded: a caller can go on validating v and report all problems at
// once.
var ErrUnknownKeys = errors.New("unknown keys")

// unknownKeys is the joined errors about unknown keys that match
// ErrUnknownKeys.
type unknownKeys []error

func (u unknownKeys) Error() string        { return errors.Join(u...).Error() }
func (u unknownKeys) Unwrap() []error      { return u }
func (u unknownKeys) Is(target error) bool { return target == ErrUnknownKeys }

// Decode decodes data, the contents of file, into v. Keys v has no field
// for are errors, and so are keys that match a field only when compared
// without regard to case, which go-toml accepts. It returns the index of
// where data writes each key, for locating problems found later with
// Place.
func Decode(file string, data []byte, v any) (*Index, error) {
	keys := IndexKeys(data)
	keys.file = file
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var unknown unknownKeys
	if err := dec.Decode(v); err != nil {
		var missing *toml.StrictMissingError
		if !errors.As(err, &missing) {
			return keys, decodeError(file, keys, err)
		}
		for i := range missing.Errors {
			unknown = append(unknown, unknownKey(file, keys, &missing.Errors[i]))
		}
	}
	unknown = append(unknown, keys.caseErrors(reflect.TypeOf(v))...)
	if len(unknown) == 0 {
		return keys, nil
	}
	slices.SortStableFunc(unknown, func(a, b error) int {
		ea, eb := a.(*Error), b.(*Error)
		return cmp.Or(cmp.Compare(ea.Line, eb.Line), cmp.Compare(ea.Col, eb.Col))
	})
	return keys, unknown
}

// Place sets e's file, line and column to where the indexed file writes
// e.Path or, when it leaves the key out, its enclosing table.
func (x *Index) Place(e *Error) {
	e.File = x.file
	if l, ok := x.Locate(e.Path); ok {
		e.Line, e.Col = l.Line, l.Col
	}
}

// decodeError turns go-toml's errors, other than unknown keys, into
// Errors with a line and column.
func decodeError(file string, keys *Index, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		// Below a map, go-toml may report an unknown key as a plain
		// DecodeError, and stop decoding: not an ErrUnknownKeys.
		if strings.TrimPrefix(de.Error(), "toml: ") == "unknown field" {
			return unknownKey(file, keys, de)
		}
		line, col := de.Position()
		path, ok := keys.valueAt[[2]int{line, col}]
		if !ok {
			path = strings.Join(de.Key(), ".")
		}
		return &Error{File: file, Line: line, Col: col, Path: path, Err: errors.New(decodeMessage(de))}
	}
	return &Error{File: file, Err: err}
}

func unknownKey(file string, keys *Index, de *toml.DecodeError) error {
	line, col := de.Position()
	// go-toml's key lacks the enclosing key inside inline tables.
	key := strings.Join(de.Key(), ".")
	if path, ok := keys.byPos[[2]int{line, col}]; ok {
		key = KeyOnly(path)
	}
	return &Error{File: file, Line: line, Col: col, Err: fmt.Errorf("unknown key %q", key)}
}

var typeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into (?:struct field .* of type )?(.+)$`)

// decodeMessage rewords go-toml's type errors, which name Go types, in
// terms of TOML values.
func decodeMessage(de *toml.DecodeError) string {
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	m := typeMismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	return fmt.Sprintf("expected %s, got %s", tomlType(m[2]), article(m[1]))
}

func tomlType(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	switch {
	case goType == "int":
		return "an integer"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case goType == "[]string":
		return "an array of strings"
	case strings.HasPrefix(goType, "[]"):
		return "an array of tables"
	case strings.Contains(goType, "."): // a struct or map of the caller's package
		return "a table"
	}
	return goType
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}
