package trust

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/printable"
)

// CheckFile fails when u could change what root reads or runs at path:
// when Resolve fails, or when u can write the file it resolves to. It
// returns the resolved path.
func CheckFile(path string, u User) (string, error) {
	real, err := Resolve(path, u, false)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Lstat(real, &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: real, Err: err}
	}
	if u.canWrite(&st) {
		return "", untrusted(path, "the VM user (uid %d) can write %s", u.UID, printable.String(real))
	}
	return real, nil
}

// CheckTree fails when u could change anything root would take from the
// directory tree at dir — a runner package it imports and whose scripts
// it runs: the directory must resolve (Resolve), u must not be able to
// write any directory or file in it, and symlinks in it must point at
// files u cannot change either (CheckFile), wherever they lead.
func CheckTree(dir string, u User) error {
	real, err := Resolve(dir, u, false)
	if err != nil {
		return err
	}
	return filepath.WalkDir(real, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "stat", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
			if _, err := os.Lstat(target); os.IsNotExist(err) {
				return nil // dangling: nothing to run; the runner's own check reports it
			}
			_, err = CheckFile(target, u)
			return err
		}
		if u.canWrite(&st) {
			return untrusted(p, "the VM user (uid %d) can write it", u.UID)
		}
		return nil
	})
}
