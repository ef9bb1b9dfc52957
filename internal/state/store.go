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
	"strings"
)

// hashLen is the number of hex digits of a store entry's name (128 bits).
const hashLen = 32

// InNixStore reports whether a runner lives in a Nix store, where Nix
// keeps it immutable and alive; such runners are linked, never copied.
func InNixStore(path string) bool { return strings.HasPrefix(path, nixStore) }

// Hash returns the content hash of a runner package: file contents,
// executable bits, symlink targets and the names of all entries. Other
// metadata (owners, times) does not count, so equal packages built at
// different times share one store entry.
func Hash(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		return hashEntry(h, p, rel, e)
	})
	if err != nil {
		return "", fmt.Errorf("hashing %q: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:hashLen], nil
}

// hashEntry feeds one entry into h in an unambiguous framing: each field
// is length-prefixed, so no two different trees produce the same stream.
func hashEntry(h hash.Hash, p, rel string, e fs.DirEntry) error {
	field := func(s string) { io.WriteString(h, strconv.Itoa(len(s))+":"+s) }
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
	case t.IsRegular():
		fi, err := e.Info()
		if err != nil {
			return err
		}
		field("f")
		field(rel)
		field(strconv.FormatBool(fi.Mode()&0o111 != 0))
		field(strconv.FormatInt(fi.Size(), 10))
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: %s files cannot be part of a runner package", rel, t.Type())
	}
	return nil
}

// StorePath is where the runner with the given hash lives.
func (d *Dir) StorePath(hash string) string { return filepath.Join(d.Root, StoreDir, hash) }

// Import copies the runner package at src into the store and returns its
// store path; an identical package already there is reused. The returned
// release must be called once the caller's link to the entry is in place:
// until then the entry is protected from a concurrent GC.
func (d *Dir) Import(ctx context.Context, src string) (path string, release func(), err error) {
	unlock, err := d.lockStore(ctx, false)
	if err != nil {
		return "", nil, err
	}
	path, err = d.importLocked(src)
	if err != nil {
		unlock()
		return "", nil, fmt.Errorf("importing runner %q: %w", src, err)
	}
	return path, unlock, nil
}

func (d *Dir) importLocked(src string) (string, error) {
	sum, err := Hash(src)
	if err != nil {
		return "", err
	}
	dst := d.StorePath(sum)
	if _, err := os.Lstat(dst); err == nil {
		return dst, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(d.Root, StoreDir), ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename below
	if err := copyTree(src, tmp); err != nil {
		return "", err
	}
	// The source may have changed while it was copied; the entry must
	// hold exactly what its name says.
	got, err := Hash(tmp)
	if err != nil {
		return "", err
	}
	if got != sum {
		return "", errors.New("runner changed while it was being copied; try again")
	}
	if err := os.Rename(tmp, dst); err != nil && !isExistErr(err) {
		return "", err
	}
	return dst, nil
}

func isExistErr(err error) bool {
	return errors.Is(err, fs.ErrExist) || errors.Is(err, os.ErrExist) || strings.Contains(err.Error(), "directory not empty")
}

// copyTree copies a runner package. Files become read-only, so a store
// entry is not edited in place by accident; symlinks are copied as they
// are (runner validation already refused those escaping the package).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
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
		case t.IsRegular():
			fi, err := e.Info()
			if err != nil {
				return err
			}
			mode := os.FileMode(0o444)
			if fi.Mode()&0o111 != 0 {
				mode = 0o555
			}
			return copyFile(p, out, mode)
		default:
			return fmt.Errorf("%s: %s files cannot be part of a runner package", rel, t.Type())
		}
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	// Synced, so a crash right after the rename cannot leave an entry
	// whose name promises content its files do not have.
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Trusted resolves the runner at path and reports whether it may drive
// root-side host preparation: it must resolve into this state directory's
// store or into a Nix store, which only root can change. A VM directory
// is writable by the VM user (the hypervisor creates its sockets there),
// so its links could otherwise be pointed at a runner whose scripts root
// would run. Callers must use the returned path, not path, from then on.
// Resolution is physical (no lexical cleaning of "..", which can differ
// from what the kernel resolves through symlinks).
func (d *Dir) Trusted(path string) (string, bool) {
	if !filepath.IsAbs(path) {
		wd, err := os.Getwd()
		if err != nil {
			return "", false
		}
		path = wd + "/" + path
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", false
	}
	if InNixStore(real + "/") {
		return real, true
	}
	store, err := filepath.EvalSymlinks(filepath.Join(d.Root, StoreDir))
	if err != nil {
		return "", false
	}
	rel, ok := relInside(store, real)
	return real, ok && !strings.Contains(rel, "/") && !strings.HasPrefix(rel, ".")
}
