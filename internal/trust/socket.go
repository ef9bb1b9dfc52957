package trust

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/printable"
)

// ChownSocket gives the unix socket at path to uid:gid with mode (-1
// keeps an id), so the VM user's hypervisor can connect to a socket a
// root daemon bound. It works on a descriptor of the socket itself, never
// by name: the directory must resolve without anything u could replace
// (Resolve), and the entry must be a socket that root owns, with one link.
// A symlink or a file swapped in meanwhile is refused, not followed.
func ChownSocket(path string, u User, uid, gid int, mode os.FileMode) error {
	dir, err := Resolve(filepath.Dir(path), u, false)
	if err != nil {
		return fmt.Errorf("socket %s: %w", printable.String(path), err)
	}
	p := filepath.Join(dir, filepath.Base(path))
	fd, st, err := openPath(p)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := checkOwned(p, st, unix.S_IFSOCK); err != nil {
		return err
	}
	if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "chown", Path: p, Err: err}
	}
	// fchmod does not take an O_PATH descriptor; its magic link in /proc
	// names the same inode.
	if err := unix.Fchmodat(unix.AT_FDCWD, procFD(fd), uint32(mode.Perm()), 0); err != nil {
		return &os.PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}
