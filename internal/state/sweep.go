package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sweep removes what killed commands left behind and nobody can be using
// any more: the staging directories in TmpDir of VMs whose lock is free,
// and, when the store lock is free, partial copies and unreferenced
// entries of the runner store. Locks, not timing, prove a leftover dead:
// a staging directory is made and used only by its VM's lock holder, and
// store entries are made and linked only by imports, which hold the store
// lock (shared) until their link is in place. Sweep never waits: what a
// live command holds is skipped and left to a later Sweep. Every command
// that writes the state directory calls it first. A state directory that
// does not exist is left so.
func (d *Dir) Sweep(ctx context.Context) error {
	if _, err := os.Lstat(d.Root); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	// Staging first: a staged VM's links keep store entries alive.
	for _, name := range d.stagedNames() {
		if err := ctx.Err(); err != nil {
			return err
		}
		unlock, ok, err := tryLockFile(filepath.Join(d.Root, LocksDir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("sweeping leftovers of VM %q: %w", name, err))
		}
		if !ok {
			continue
		}
		if err := d.removeStaging(name); err != nil {
			errs = append(errs, fmt.Errorf("sweeping leftovers of VM %q: %w", name, err))
		}
		unlock()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, ok, err := d.tryLockStore()
	if err != nil {
		errs = append(errs, fmt.Errorf("sweeping runner store: %w", err))
	}
	if ok {
		_, err := d.gcLocked()
		unlock()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stagedNames returns the names of the VMs with entries in TmpDir
// (staging directories and the trash of Remove), sorted.
func (d *Dir) stagedNames() []string {
	entries, _ := os.ReadDir(filepath.Join(d.Root, TmpDir))
	var names []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), stagingVMPrefix)
		name, _, dot := strings.Cut(rest, ".")
		if ok && dot && CheckName(name) == nil && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// tryLockStore takes the store lock exclusively if nobody holds it.
func (d *Dir) tryLockStore() (unlock func(), ok bool, err error) {
	return tryLockFile(filepath.Join(d.Root, LocksDir, StoreLock))
}

// tryLockFile takes an exclusive flock(2) on the lock file at path without
// waiting; ok is false when someone else holds it. It is the same lock
// Lock and lockStore take (gofrs/flock uses flock(2) too). A lock file
// that does not exist is not created: nobody ever held it, so nothing
// can be left over under it, and its permissions stay Lock's business.
func tryLockFile(path string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("locking %s: %w", path, err)
	}
	// Closing the only descriptor of this open file releases the lock.
	return func() { f.Close() }, true, nil
}
