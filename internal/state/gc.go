package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/trust"
)

// runnerLinks are the links that keep a store entry alive.
var runnerLinks = []string{CurrentLink, BootedLink, OldLink}

// GC removes store entries that no VM's current, booted or old link
// references, and staging leftovers of interrupted imports. It returns the
// removed entries' paths.
func (d *Dir) GC(ctx context.Context) ([]string, error) {
	unlock, err := d.lockStore(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return d.gcLocked()
}

// gcLocked is GC for the holder of the exclusive store lock.
func (d *Dir) gcLocked() ([]string, error) {
	live, err := d.referencedEntries()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(d.Root, StoreDir))
	if err != nil {
		return nil, fmt.Errorf("collecting runner store: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if live[e.Name()] {
			continue
		}
		p := filepath.Join(d.Root, StoreDir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("removing unreferenced runner %q: %w", p, err))
			continue
		}
		if !strings.HasPrefix(e.Name(), storeTmpPrefix) {
			removed = append(removed, p)
		}
	}
	return removed, errors.Join(errs...)
}

// dropUnlinked removes the store entry name if nothing links to it, when
// the store lock can be had at once; otherwise someone is importing, and
// a later Sweep or GC removes it.
func (d *Dir) dropUnlinked(name string) {
	unlock, ok, err := d.tryLockStore()
	if err != nil || !ok {
		return
	}
	defer unlock()
	live, err := d.referencedEntries()
	if err == nil && !live[name] {
		os.RemoveAll(filepath.Join(d.Root, StoreDir, name))
	}
}

// referencedEntries returns the names of store entries some link points
// at, looking at VM directories and at VMs being staged.
func (d *Dir) referencedEntries() (map[string]bool, error) {
	live := map[string]bool{}
	store := filepath.Join(d.Root, StoreDir)
	for _, parent := range []string{d.Root, filepath.Join(d.Root, TmpDir)} {
		entries, err := os.ReadDir(parent)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("collecting runner store: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() || parent == d.Root && strings.HasPrefix(e.Name(), ".") {
				continue
			}
			for _, l := range runnerLinks {
				// Only links microvm wrote keep entries alive: the VM user
				// could otherwise pin any runner against collection.
				t, err := trust.Readlink(filepath.Join(parent, e.Name(), l))
				if errors.Is(err, trust.ErrUntrusted) || errors.Is(err, os.ErrNotExist) {
					continue // not root's link: references nothing
				}
				if err != nil {
					// Unsure what it references: keep everything.
					return nil, fmt.Errorf("collecting runner store: %w", err)
				}
				// Relative links are written for the VM's final place
				// directly below the root, staged VMs included.
				if !filepath.IsAbs(t) {
					t = filepath.Join(d.Root, e.Name(), t)
				}
				if rel, ok := relInside(store, t); ok {
					live[strings.SplitN(rel, "/", 2)[0]] = true
				}
			}
		}
	}
	return live, nil
}
