package systemd

import "strings"

// escapeSpecifiers makes s literal where systemd expands only specifiers
// (WorkingDirectory=, ConditionPathExists=, User=): "%" becomes "%%".
func escapeSpecifiers(s string) string {
	return strings.ReplaceAll(s, "%", "%%")
}

// escapeExecLiteral makes s literal inside an Exec*= argument before quoting:
// specifiers are expanded first ("%" → "%%") and $VAR references at exec
// time ("$" → "$$"), per systemd.service(5) "Command lines".
func escapeExecLiteral(s string) string {
	return strings.ReplaceAll(escapeSpecifiers(s), "$", "$$")
}

// quoteExecWord double-quotes w when systemd would otherwise split it or
// unescape it: whitespace, quotes, backslashes, a lone ";" (the old
// command separator) or the empty word. Inside quotes systemd applies C
// escapes, so "\" and `"` are backslash-escaped. w must be the output of
// escapeExecLiteral or escapeSpecifiers, optionally followed by safe text
// such as "/%i/bin/x".
func quoteExecWord(w string) string {
	if w != "" && w != ";" && !strings.ContainsAny(w, " \t\"'\\") {
		return w
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\t", `\t`)
	return `"` + r.Replace(w) + `"`
}

// escapeExecPath renders s as the executable of an Exec*= command line.
// systemd expands specifiers there but never $VAR (the program must be a
// literal path, systemd.service(5)), so "$" stays single: doubled, it
// names a different file (systemd-analyze verify caught this).
func escapeExecPath(s string) string {
	return quoteExecWord(escapeSpecifiers(s))
}

// escapeExecArg renders s as one literal word of an Exec*= command line
// (systemd.syntax(7), systemd.service(5)). s must not contain a newline;
// Render rejects those before they get here.
func escapeExecArg(s string) string {
	return quoteExecWord(escapeExecLiteral(s))
}
