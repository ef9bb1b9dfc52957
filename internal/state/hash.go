package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/microvm-host/microvm/internal/printable"
)

// Bounds of HashBounded, what list reads at most to tell whether a runner
// source changed. Runner packages hold scripts, a few small files and
// links (kernels and disks are links into a store); volume images never
// belong in them. A source past these bounds is reported, not read.
const (
	MaxHashBytes   = 1 << 30 // total size of the regular files
	MaxHashEntries = 10000   // files, directories and links
)

// ErrTooLarge is returned by HashBounded for a tree past its bounds.
var ErrTooLarge = errors.New("too large for a runner package")

// errChanged reports a file that changed while it was read.
var errChanged = errors.New("changed while it was being read")

// copyChunk is how much is copied between two checks of the context, so
// that a large file does not hold up an interrupt.
const copyChunk = 4 << 20

// Hash returns the content hash of a runner package: file contents,
// executable bits, symlink targets and the names of all entries. Other
// metadata (owners, times) does not count, so equal packages built at
// different times share one store entry. It stops when ctx is done.
func Hash(ctx context.Context, dir string) (string, error) {
	return hashTree(ctx, dir, hashLimits{bytes: -1, entries: -1})
}

// HashBounded is Hash for callers that must bound their work: a tree
// whose regular files total more than MaxHashBytes, or that has more than
// MaxHashEntries entries, is refused with ErrTooLarge before any file is
// opened.
func HashBounded(ctx context.Context, dir string) (string, error) {
	return hashTree(ctx, dir, hashLimits{bytes: MaxHashBytes, entries: MaxHashEntries})
}

// hashLimits bound a tree; negative means unbounded.
type hashLimits struct {
	bytes   int64
	entries int
}

func hashTree(ctx context.Context, dir string, lim hashLimits) (string, error) {
	fail := func(err error) (string, error) { return "", fmt.Errorf("hashing %q: %w", dir, err) }
	fi, err := os.Lstat(dir)
	if err != nil {
		return fail(err)
	}
	if !fi.IsDir() {
		return fail(fmt.Errorf("%s; expected a runner package directory", printable.FileKind(fi.Mode())))
	}
	if lim.bytes >= 0 || lim.entries >= 0 {
		// Sizes first, from directory entries and lstat only: nothing
		// is opened, let alone read, for a tree past the bounds.
		if err := checkTreeSize(ctx, dir, lim); err != nil {
			return fail(err)
		}
	}
	h := sha256.New()
	budget := lim.bytes
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		return hashEntry(ctx, h, p, rel, e, &budget)
	})
	if err != nil {
		return fail(err)
	}
	return hex.EncodeToString(h.Sum(nil))[:hashLen], nil
}

// checkTreeSize walks dir, stopping at the first bound passed and at the
// first entry that cannot be part of a runner package.
func checkTreeSize(ctx context.Context, dir string, lim hashLimits) error {
	var total int64
	var n int
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := checkType(rel, e.Type()); err != nil {
			return err
		}
		if n++; lim.entries >= 0 && n > lim.entries {
			return fmt.Errorf("%w: more than %d files, directories and links", ErrTooLarge, lim.entries)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if total += fi.Size(); lim.bytes >= 0 && total > lim.bytes {
			return fmt.Errorf("%w: its files hold more than %s (%s: %s); keep volumes and other large files out of it", ErrTooLarge, sizeString(lim.bytes), rel, sizeString(fi.Size()))
		}
		return nil
	})
}

// checkType refuses what cannot be part of a runner package: anything
// but directories, regular files and symlinks.
func checkType(rel string, t fs.FileMode) error {
	if t.IsDir() || t.IsRegular() || t&fs.ModeSymlink != 0 {
		return nil
	}
	return fmt.Errorf("%s: %s cannot be part of a runner package; expected regular files, directories and symlinks", rel, printable.FileKind(t))
}

// hashEntry feeds one entry into h in an unambiguous framing: each field
// is length-prefixed, so no two different trees produce the same stream.
// budget is what may still be read (negative: no bound); it is checked
// again here because files may have grown since checkTreeSize.
func hashEntry(ctx context.Context, h hash.Hash, p, rel string, e fs.DirEntry, budget *int64) error {
	field := func(s string) { io.WriteString(h, strconv.Itoa(len(s))+":"+s) }
	if err := checkType(rel, e.Type()); err != nil {
		return err
	}
	switch t := e.Type(); {
	case t.IsDir():
		field("d")
		field(rel)
	case t&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		field("l")
		field(rel)
		field(target)
	default:
		f, fi, err := openRegular(p, rel)
		if err != nil {
			return err
		}
		defer f.Close()
		if *budget >= 0 {
			if *budget -= fi.Size(); *budget < 0 {
				return fmt.Errorf("%w: %s grew to %s", ErrTooLarge, rel, sizeString(fi.Size()))
			}
		}
		field("f")
		field(rel)
		field(strconv.FormatBool(fi.Mode()&0o111 != 0))
		field(strconv.FormatInt(fi.Size(), 10))
		if err := copyN(ctx, h, f, fi.Size()); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	return nil
}

// openRegular opens the regular file p for reading. The entry may have
// been replaced since the directory was read, so the type is checked
// again on what was opened: O_NONBLOCK keeps a FIFO from blocking the
// open, O_NOFOLLOW refuses a symlink.
func openRegular(p, rel string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = checkType(rel, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// copyN copies exactly n bytes from r to w, checking ctx between chunks.
// Fewer bytes mean the file shrank while it was read.
func copyN(ctx context.Context, w io.Writer, r io.Reader, n int64) error {
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := io.CopyN(w, r, min(n, copyChunk))
		n -= c
		if errors.Is(err, io.EOF) {
			return errChanged
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sizeString formats a byte count for people: 1 GiB, 3.5 MiB, 12 bytes.
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	if len(v) > 2 && v[len(v)-2:] == ".0" {
		v = v[:len(v)-2]
	}
	return v + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[exp]
}
