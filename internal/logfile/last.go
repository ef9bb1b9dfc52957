package logfile

import (
	"bytes"
	"sync"
)

// Last keeps the last bytes written to it: the console output a run ended
// with, for the exit record and the message of a run that failed. Reading
// them back from the log would mix in the output of earlier runs and
// race with rotation; a copy of this run's output has neither problem.
// It is safe for concurrent use.
type Last struct {
	max int

	mu      sync.Mutex
	buf     []byte
	dropped bool // bytes before buf were thrown away: its first line is partial
}

// NewLast keeps the last maxBytes bytes.
func NewLast(maxBytes int) *Last { return &Last{max: maxBytes} }

// Write keeps the end of p; it never fails.
func (l *Last) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - l.max; over > 0 {
		l.buf = append(l.buf[:0], l.buf[over:]...)
		l.dropped = true
	}
	return len(p), nil
}

// Lines returns the last n lines that show something, as a terminal would
// show them: line ends ("\r\n" or "\n") removed, a line overwritten after
// a carriage return reduced to what was written last, and escape
// sequences (colours, cursor movements) left out. The bytes are
// otherwise the console's: print them through package printable.
func (l *Last) Lines(n int) []string {
	l.mu.Lock()
	b := bytes.Clone(l.buf)
	dropped := l.dropped
	l.mu.Unlock()
	raw := bytes.Split(b, []byte{'\n'})
	if dropped {
		raw = raw[1:]
	}
	var out []string
	for _, line := range raw {
		line = stripEscapes(bytes.TrimRight(line, "\r"))
		if i := bytes.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, string(line))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// stripEscapes removes ANSI escape sequences: CSI ("\x1b[0;32m"), OSC
// ("\x1b]0;title\a") and two-byte ones ("\x1bc"). A sequence cut off by
// the end of the line is removed to its end.
func stripEscapes(b []byte) []byte {
	if bytes.IndexByte(b, 0x1b) < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0x1b {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			break
		}
		switch b[i+1] {
		case '[': // parameters and intermediates, then a final byte @ to ~
			i += 2
			for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
				i++
			}
		case ']': // until BEL or ESC \
			i += 2
			for i < len(b) && b[i] != 0x07 && !(b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\') {
				i++
			}
			if i < len(b) && b[i] == 0x1b {
				i++
			}
		default:
			i++
		}
	}
	return out
}
