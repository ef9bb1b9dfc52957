package tomlfile

import (
	"fmt"
	"strings"
)

// Error is one problem with a TOML file, located as precisely as known so
// the user can jump to it: "vm.toml:7:1: interfaces[0].mac: …".
// Validators fill only Path and Err; Place adds File, Line and Col from
// where the file writes the key.
type Error struct {
	File      string // "" when the data did not come from a file
	Line, Col int    // 1-based; 0 when unknown, e.g. for a missing key
	Path      string // key path like "interfaces[1].mac"; "" for syntax errors
	Err       error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
