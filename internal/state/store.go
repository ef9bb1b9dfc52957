package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// hashLen is the number of hex digits of a store entry's name (128 bits).
const hashLen = 32

// InNixStore reports whether a runner lives in a Nix store, where Nix
// keeps it immutable and alive; such runners are linked, never copied.
func InNixStore(path string) bool { return strings.HasPrefix(path, nixStore) }

// StorePath is where the runner with the given hash lives.
func (d *Dir) StorePath(hash string) string { return filepath.Join(d.Root, StoreDir, hash) }

// Import copies the runner package at src into the store and returns its
// store path; an identical package already there is reused. It stops
// when ctx is done, leaving no partial copy. The returned release must
// be called once the caller's link to the entry is in place, or once the
// caller gave up: until then the entry is protected from a concurrent GC,
// and an entry this import created that nothing links by then is removed
// again, so an interrupted command leaves no orphan (when another import
// holds the store meanwhile, the next Sweep removes it instead).
func (d *Dir) Import(ctx context.Context, src string) (path string, release func(), err error) {
	unlock, err := d.lockStore(ctx, false)
	if err != nil {
		return "", nil, err
	}
	path, created, err := d.importLocked(ctx, src)
	if err != nil {
		unlock()
		return "", nil, fmt.Errorf("importing runner %q: %w", src, err)
	}
	if !created {
		return path, unlock, nil
	}
	return path, func() {
		unlock()
		d.dropUnlinked(filepath.Base(path))
	}, nil
}

func (d *Dir) importLocked(ctx context.Context, src string) (path string, created bool, err error) {
	sum, err := Hash(ctx, src)
	if err != nil {
		return "", false, err
	}
	dst := d.StorePath(sum)
	if _, err := os.Lstat(dst); err == nil {
		return dst, false, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(d.Root, StoreDir), storeTmpPrefix)
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename below
	if err := copyTree(ctx, src, tmp); err != nil {
		return "", false, err
	}
	// The source may have changed while it was copied; the entry must
	// hold exactly what its name says.
	got, err := Hash(ctx, tmp)
	if err != nil {
		return "", false, err
	}
	if got != sum {
		return "", false, errors.New("runner changed while it was being copied; try again")
	}
	if err := os.Rename(tmp, dst); err != nil {
		if isExistErr(err) {
			return dst, false, nil // a concurrent import of the same runner won
		}
		return "", false, err
	}
	return dst, true, nil
}

// storeTmpPrefix starts the names of store entries being copied.
const storeTmpPrefix = ".tmp-"

func isExistErr(err error) bool {
	return errors.Is(err, fs.ErrExist) || errors.Is(err, os.ErrExist) || strings.Contains(err.Error(), "directory not empty")
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
