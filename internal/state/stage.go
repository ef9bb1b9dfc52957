package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Staging is a VM directory being assembled in TmpDir. Nothing of it is
// visible under the VM's name until Commit renames it into place, so an
// interrupted create leaves no half-written VM behind.
type Staging struct {
	d    *Dir
	name string
	Path string
}

// Stage starts a new VM directory for name. The caller must hold the VM's
// lock (see Lock); leftovers of a previous attempt were removed then.
func (d *Dir) Stage(name string) (*Staging, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := d.ensure(); err != nil {
		return nil, err
	}
	p, err := os.MkdirTemp(filepath.Join(d.Root, TmpDir), stagingPrefix(name))
	if err != nil {
		return nil, fmt.Errorf("staging VM %q: %w", name, err)
	}
	return &Staging{d: d, name: name, Path: p}, nil
}

// SetLink is Dir.SetLink for the staged directory.
func (s *Staging) SetLink(link, target string) error { return setLink(s.d.Root, s.Path, link, target) }

// Commit moves the staged directory into place. It refuses, atomically,
// when a directory of that name appeared meanwhile. With a group (gid >=
// 0, root only) the directory is made root's and the VM group's,
// VMDirMode; otherwise it is the caller's, 0755.
func (s *Staging) Commit(gid int) error {
	var err error
	if gid >= 0 {
		err = secureDir(s.Path, gid)
	} else {
		err = os.Chmod(s.Path, 0o755)
	}
	if err != nil {
		return fmt.Errorf("committing VM %q: %w", s.name, err)
	}
	err = unix.Renameat2(unix.AT_FDCWD, s.Path, unix.AT_FDCWD, s.d.VMPath(s.name), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("VM %q: %s %w", s.name, s.d.VMPath(s.name), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("committing VM %q: %w", s.name, err)
	}
	return nil
}

// Abort removes the staged directory; after Commit it does nothing.
func (s *Staging) Abort() {
	os.RemoveAll(s.Path)
}

// stagingPrefix starts the names of name's entries in TmpDir: staging
// directories and the trash of Remove. VM names have no dots, so the one
// after the name ends it.
func stagingPrefix(name string) string { return stagingVMPrefix + name + "." }

const stagingVMPrefix = "vm-"

// StagingPrefix starts the names that work for name may use in TmpDir
// (e.g. the cloud-init seed being written): what an interrupted command
// left there is removed with the VM's other staging entries.
func StagingPrefix(name string) string { return stagingPrefix(name) }

// removeStaging deletes what interrupted commands on name left in TmpDir.
// Only the lock holder calls it, so nobody else is using those entries.
func (d *Dir) removeStaging(name string) error {
	entries, err := os.ReadDir(filepath.Join(d.Root, TmpDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	errs := []error{err}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagingPrefix(name)) {
			errs = append(errs, os.RemoveAll(filepath.Join(d.Root, TmpDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
