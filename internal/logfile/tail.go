package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// tailChunk is how much Tail reads per step backwards from the end; logs can
// be large when rotation is off, and `logs -n 20` should not read them whole.
const tailChunk = 64 << 10

// Tail returns the last n lines of the log at path, taking the older ones from
// path.1 when path has fewer than n. A final line without a newline counts.
// n ≤ 0 returns the whole current file (not path.1).
func Tail(path string, n int) ([]byte, error) {
	cur, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading log %q: %w", path, err)
	}
	defer cur.Close()
	if n <= 0 {
		b, err := io.ReadAll(cur)
		if err != nil {
			return nil, fmt.Errorf("reading log %q: %w", path, err)
		}
		return b, nil
	}
	b, lines, err := lastLines(cur, n)
	if err != nil {
		return nil, fmt.Errorf("reading log %q: %w", path, err)
	}
	if lines >= n {
		return b, nil
	}
	prevName := rotatedName(path, 1)
	prev, err := os.Open(prevName)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading log %q: %w", prevName, err)
	}
	defer prev.Close()
	// path.1 was opened after path: if a rotation came between, path.1 is the
	// file already read. Returning fewer lines beats printing them twice.
	cfi, err1 := cur.Stat()
	pfi, err2 := prev.Stat()
	if err1 != nil || err2 != nil || os.SameFile(cfi, pfi) {
		return b, nil
	}
	pb, _, err := lastLines(prev, n-lines)
	if err != nil {
		return nil, fmt.Errorf("reading log %q: %w", prevName, err)
	}
	return append(pb, b...), nil
}

// lastLines returns the last n lines of f and how many lines that is (fewer
// than n only if f holds fewer).
func lastLines(f *os.File, n int) ([]byte, int, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	off := fi.Size()
	var b []byte
	for off > 0 {
		sz := min(off, tailChunk)
		off -= sz
		chunk := make([]byte, sz, sz+int64(len(b)))
		if _, err := f.ReadAt(chunk, off); err != nil {
			return nil, 0, err
		}
		b = append(chunk, b...)
		if i := lastLinesStart(b, n); i >= 0 {
			return b[i:], n, nil
		}
	}
	lines := bytes.Count(b, []byte{'\n'})
	if len(b) > 0 && b[len(b)-1] != '\n' {
		lines++
	}
	return b, lines, nil
}

// lastLinesStart returns where the last n lines of b begin, or -1 if b may
// not hold all of them (the n-th line's start is not preceded by a newline).
func lastLinesStart(b []byte, n int) int {
	end := len(b)
	// A trailing newline ends the last line rather than starting another.
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for ; n > 0; n-- {
		i := bytes.LastIndexByte(b[:end], '\n')
		if i < 0 {
			return -1
		}
		end = i
	}
	return end + 1
}
