// Package tomlfile decodes configuration files written in TOML strictly
// and locates every problem as "FILE:LINE:COL: KEY: message", both those
// go-toml finds while decoding and those a validator finds afterwards.
// The spec parser and the host configuration share it, so a user reads
// the same kind of error from both.
package tomlfile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Decode decodes data, the contents of file, into v. Keys v has no field
// for are errors. It returns the index of where data writes each key, for
// locating problems found later with Place.
func Decode(file string, data []byte, v any) (*Index, error) {
	keys := IndexKeys(data)
	keys.file = file
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return keys, decodeError(file, keys, err)
	}
	return keys, nil
}

// Place sets e's file, line and column to where the indexed file writes
// e.Path or, when it leaves the key out, its enclosing table.
func (x *Index) Place(e *Error) {
	e.File = x.file
	if l, ok := x.Locate(e.Path); ok {
		e.Line, e.Col = l.Line, l.Col
	}
}

// decodeError turns go-toml's errors into Errors with a line and column.
func decodeError(file string, keys *Index, err error) error {
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		var errs []error
		for i := range missing.Errors {
			errs = append(errs, unknownKey(file, keys, &missing.Errors[i]))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		// Below a map, go-toml reports an unknown key as a plain
		// DecodeError rather than in a StrictMissingError.
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
