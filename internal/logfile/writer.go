// Package logfile keeps a VM's console log: a Writer that appends with
// size-based rotation, and Tail and Follow for readers, which must cope with a
// rotation happening while they read.
package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
)

// rotatedName is the one place the rotation naming scheme lives: generation 0
// is path itself, generation i is path.i (larger is older).
func rotatedName(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// Writer appends to a log file and rotates it by size. It is safe for
// concurrent use.
type Writer struct {
	path    string
	maxSize int64
	keep    int

	mu     sync.Mutex
	f      *os.File // nil after a rotation failed halfway; the next Write reopens path
	size   int64
	closed bool
}

// Open appends to path (mode 0640), creating it. When a write would push the
// file past maxSize, the file is rotated first: path.(keep-1)→path.keep …
// path→path.1, dropping the oldest. A single Write is never split across
// files; one larger than maxSize goes whole into a fresh file. maxSize ≤ 0
// disables rotation. keep < 1 is treated as 1, because Tail and Follow read
// the previous generation from path.1.
func Open(path string, maxSize int64, keep int) (*Writer, error) {
	w := &Writer{path: path, maxSize: maxSize, keep: max(keep, 1)}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("opening log %q: %w", w.path, err)
	}
	// A restarted monitor appends to what its predecessor left, so the size
	// budget starts from the file's current size, not zero.
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening log %q: %w", w.path, err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Write appends p to the current file, rotating first if p would not fit.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	// size > 0: rotating an empty file would only shift out a real one.
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(p)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

// rotate shifts every generation up by one and starts a fresh path. Follow
// relies on the order: oldest first, path last, so a file never moves down
// and at any moment at most one name in the chain is missing.
func (w *Writer) rotate() error {
	for i := w.keep - 1; i >= 1; i-- {
		// Renaming onto path.keep replaces, and so drops, the oldest.
		err := os.Rename(rotatedName(w.path, i), rotatedName(w.path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating log %q: %w", w.path, err)
		}
	}
	// ErrNotExist: someone removed path under us; there is nothing to keep.
	err := os.Rename(w.path, rotatedName(w.path, 1))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotating log %q: %w", w.path, err)
	}
	// The open file is now path.1 and must not be written again, even if
	// opening the new path fails.
	old := w.f
	w.f = nil
	old.Close() // every write to it has already returned; nothing to report
	return w.open()
}

// Close closes the current file; later Writes fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}
