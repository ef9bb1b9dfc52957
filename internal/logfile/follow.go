package logfile

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Follow writes to out everything appended to the log at path after offset
// from, until ctx ends (then it returns ctx.Err()). It survives rotation: when
// path is replaced it finishes the file it was reading, under whatever name
// that file now has, then reads each newer generation from offset 0. Nothing
// is lost unless Follow falls more than keep rotations behind the Writer;
// then it resumes at the start of the current path. A from beyond the end of
// path means path was replaced since the caller measured it: start at 0.
func Follow(ctx context.Context, path string, from int64, out io.Writer) error {
	var w waiter
	// The watch is set up before the file is opened, so no change made after
	// the first read can go unnoticed.
	if in, err := newInotifyWaiter(path); err == nil {
		w = in
	} else {
		w = pollWaiter{every: pollInterval}
	}
	defer w.Close()
	return follow(ctx, path, from, out, w)
}

func follow(ctx context.Context, path string, from int64, out io.Writer, w waiter) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("following log %q: %w", path, err)
	}
	fl := &follower{path: path, cur: f, out: out, buf: make([]byte, 32<<10)}
	defer func() { fl.cur.Close() }()
	if fi, err := f.Stat(); err == nil && from > 0 && from <= fi.Size() {
		if fl.off, err = f.Seek(from, io.SeekStart); err != nil {
			return fmt.Errorf("following log %q: %w", path, err)
		}
	}
	for ctx.Err() == nil {
		// Check for rotation before draining: once path is seen replaced,
		// the writer is done with cur, so the drain reads all of it.
		rotated := fl.rotated()
		if err := fl.drain(ctx); err != nil {
			return err
		}
		if rotated && fl.advance() {
			continue
		}
		if err := w.wait(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// follower reads one generation at a time. Holding cur open keeps its data
// readable and its inode number unique however often it is renamed.
type follower struct {
	path string
	cur  *os.File
	off  int64
	out  io.Writer
	buf  []byte
}

// rotated reports whether path no longer names the file being read.
func (fl *follower) rotated() bool {
	fi, err := os.Stat(fl.path)
	if err != nil {
		return true // mid-rotation or removed; advance sorts out which
	}
	cfi, err := fl.cur.Stat()
	return err != nil || !os.SameFile(fi, cfi)
}

// drain copies cur from the current offset to its end.
func (fl *follower) drain(ctx context.Context) error {
	if fi, err := fl.cur.Stat(); err == nil && fi.Size() < fl.off {
		// Truncated in place (copytruncate style): what is there is new.
		if _, err := fl.cur.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("following log %q: %w", fl.path, err)
		}
		fl.off = 0
	}
	for ctx.Err() == nil {
		n, err := fl.cur.Read(fl.buf)
		if n > 0 {
			if _, werr := fl.out.Write(fl.buf[:n]); werr != nil {
				return werr
			}
			fl.off += int64(n)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("following log %q: %w", fl.path, err)
		}
	}
	return ctx.Err()
}

// advance switches cur to the generation written after it and reports
// whether it did; false means "not yet" (a rotation is in flight), and the
// rotation's final create of path will wake the caller again.
func (fl *follower) advance() bool {
	cfi, err := fl.cur.Stat()
	if err != nil {
		return false
	}
	k := fl.find(cfi)
	if k < 0 {
		if st, ok := cfi.Sys().(*syscall.Stat_t); !ok || st.Nlink > 0 {
			return false // still linked somewhere: renamed past our scan
		}
		// Dropped by rotation (we fell keep generations behind) or
		// removed: the generations in between are gone.
		return fl.switchTo(rotatedName(fl.path, 0))
	}
	if k == 0 {
		return false
	}
	next, err := os.Open(rotatedName(fl.path, k-1))
	if err != nil {
		return false
	}
	// Files only move up, oldest first, so while cur still sits at path.k,
	// path.(k-1) can only hold cur's successor. Seeing cur there after the
	// Open proves no rotation slipped in between.
	fi, err := os.Stat(rotatedName(fl.path, k))
	if err != nil || !os.SameFile(fi, cfi) {
		next.Close()
		return false
	}
	fl.cur.Close()
	fl.cur, fl.off = next, 0
	return true
}

// find returns the generation number currently naming the file cfi, or -1.
// The scan ends at two missing names in a row: a rotation in flight leaves
// at most one gap.
func (fl *follower) find(cfi os.FileInfo) int {
	for k, missing := 0, 0; missing < 2; k++ {
		fi, err := os.Stat(rotatedName(fl.path, k))
		if err != nil {
			missing++
			continue
		}
		missing = 0
		if os.SameFile(fi, cfi) {
			return k
		}
	}
	return -1
}

func (fl *follower) switchTo(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	fl.cur.Close()
	fl.cur, fl.off = f, 0
	return true
}
