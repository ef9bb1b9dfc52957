// Package printable makes strings that come from files safe to print on a
// terminal. Names and link targets in the state directory can be written
// by the VM user; printed raw, an escape sequence in one would reach the
// terminal of root running `microvm list` (clearing the screen, faking
// output). Every such string is printed through String.
package printable

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// String returns s as it is when every rune is printable and s holds no
// quote or backslash, and Go-quoted ("\x1b[2J…") otherwise, so a reader
// sees exactly which bytes are there.
func String(s string) string {
	if Plain(s) {
		return s
	}
	return strconv.Quote(s)
}

// Plain reports whether s prints as itself: valid UTF-8, printable runes
// only, no quote or backslash that would make a quoted form ambiguous.
func Plain(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}

// Text returns the message s with every rune that is not printable (and
// every invalid byte) escaped as in a Go string literal, leaving the rest
// (spaces, quotes) as it is: for sentences that embed names and paths.
func Text(s string) string {
	if Plain(s) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&15])
		case unicode.IsPrint(r) || r == ' ':
			b = append(b, s[i:i+n]...)
		default:
			q := strconv.QuoteRune(r)
			b = append(b, q[1:len(q)-1]...)
		}
		i += n
	}
	return string(b)
}
