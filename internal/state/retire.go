package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// retireTime is the UTC timestamp in the names of retired VMs: sortable,
// and free of ':' so the path can be passed around in shells and URLs.
const retireTime = "20060102T150405Z"

// records are the entries of a VM directory that make it a VM, and that
// Retire drops from a retired one: its runner links (which would keep
// nothing from GC there and dangle once GC removed the runners), source,
// owner and process records. The rest (volumes, share sources, sockets)
// is the VM's data.
var records = []string{CurrentLink, BootedLink, OldLink, ToplevelLink, FlakeFile, SourceFile, OwnerFile, ProcessFile}

// Retire removes the VM name from the state directory but keeps its data:
// the directory is renamed, in one step, to RemovedDir/NAME-TIMESTAMP
// (at, UTC), and then loses its records (runner links, source, owner,
// process), so the runners only it used can be garbage-collected. It
// returns where the data went. The caller must hold the VM's lock, and
// the VM must not run.
//
// An interruption leaves either the VM as it was, or its data in
// RemovedDir with some records left in it, which count for nothing
// there.
func (d *Dir) Retire(name string, at time.Time) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	removed := filepath.Join(d.Root, RemovedDir)
	if err := os.Mkdir(removed, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("removing VM %q: %w", name, err)
	}
	base := filepath.Join(removed, name+"-"+at.UTC().Format(retireTime))
	dst := base
	// Two removals of one name within a second get distinct places; a
	// rename never replaces what is there (Renameat2 NOREPLACE would
	// too, but a non-empty directory refuses to be replaced anyway, and
	// an empty one is no data).
	for i := 2; taken(dst); i++ {
		dst = fmt.Sprintf("%s.%d", base, i)
	}
	if err := os.Rename(d.VMPath(name), dst); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("removing VM %q: %w", name, ErrNotExist)
		}
		return "", fmt.Errorf("removing VM %q: %w", name, err)
	}
	var errs []error
	for _, r := range records {
		if err := removeIfExists(filepath.Join(dst, r)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return dst, fmt.Errorf("removing VM %q: its data is in %s, with records left: %w", name, dst, err)
	}
	return dst, nil
}

func taken(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
