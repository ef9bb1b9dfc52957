package runner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// writeEntries creates es under root and syncs everything, so that the
// rename that publishes root cannot expose empty files after a crash.
// Modes are set explicitly: the umask must not make output differ.
func writeEntries(root string, es []entry) error {
	dirs := []string{root}
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	for _, e := range es {
		p := filepath.Join(root, filepath.FromSlash(e.rel))
		var err error
		switch {
		case e.mode.IsDir():
			if err = os.Mkdir(p, 0o755); err == nil {
				err = os.Chmod(p, 0o755)
			}
			dirs = append(dirs, p)
		case e.mode&fs.ModeSymlink != 0:
			err = os.Symlink(e.target, p)
		default:
			err = writeFile(p, e.data, e.mode.Perm())
		}
		if err != nil {
			return err
		}
	}
	for _, d := range slices.Backward(dirs) {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(name string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// renameNoReplace renames oldpath to newpath unless newpath exists.
// os.Rename would silently replace an empty directory created meanwhile.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// The filesystem cannot do it atomically; check, then rename.
		if _, err = os.Lstat(newpath); err == nil {
			err = unix.EEXIST
		} else if errors.Is(err, fs.ErrNotExist) {
			err = os.Rename(oldpath, newpath)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}
