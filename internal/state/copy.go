package state

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyTree copies a runner package. Files become read-only, so a store
// entry is not edited in place by accident; symlinks are copied as they
// are (runner validation already refused those escaping the package). It
// stops between files and inside large ones when ctx is done; the caller
// removes the partial copy.
func copyTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if err := checkType(rel, e.Type()); err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		switch t := e.Type(); {
		case t.IsDir():
			if rel == "." {
				return os.Chmod(dst, 0o755)
			}
			return os.Mkdir(out, 0o755)
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		default:
			return copyFile(ctx, p, rel, out)
		}
	})
}

// copyFile copies the regular file src to the new file dst, read-only and
// executable if src is, keeping its holes.
func copyFile(ctx context.Context, src, rel, dst string) error {
	in, fi, err := openRegular(src, rel)
	if err != nil {
		return err
	}
	defer in.Close()
	mode := os.FileMode(0o444)
	if fi.Mode()&0o111 != 0 {
		mode = 0o555
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	err = copySparse(ctx, out, in, fi.Size())
	// Synced, so a crash right after the rename cannot leave an entry
	// whose name promises content its files do not have.
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// copySparse copies the first size bytes of in to the empty file out and
// keeps holes: SEEK_DATA and SEEK_HOLE find the data, only that is
// written, and the final truncate restores the size, so a sparse file
// takes no more room in the store than in its source. Where the file
// system cannot tell data from holes, everything is copied.
func copySparse(ctx context.Context, out, in *os.File, size int64) error {
	for off := int64(0); off < size; {
		data, err := in.Seek(off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, syscall.ENXIO):
			return out.Truncate(size) // only a hole is left
		case errors.Is(err, syscall.EINVAL):
			return copyPlain(ctx, out, in, off, size)
		case err != nil:
			return err
		}
		hole, err := in.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		hole = min(hole, size)
		if _, err := in.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if _, err := out.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if err := copyN(ctx, out, in, hole-data); err != nil {
			return err
		}
		off = hole
	}
	return out.Truncate(size)
}

// copyPlain copies in to out from off to size, holes and all.
func copyPlain(ctx context.Context, out, in *os.File, off, size int64) error {
	if _, err := in.Seek(off, io.SeekStart); err != nil {
		return err
	}
	if _, err := out.Seek(off, io.SeekStart); err != nil {
		return err
	}
	return copyN(ctx, out, in, size-off)
}
