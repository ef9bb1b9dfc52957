// Package trust is the one place that decides what root may rely on when
// the VM user could have written it (SECURITY.md states the invariant).
//
// The VM user — the hypervisor, an escaped guest — can write its VM
// directory: its sockets and images live there. Root's records in that
// directory (the current, booted and old links, the source record, the
// process record, the VFIO record) are protected by the directory's
// sticky bit, which keeps the VM user from renaming or deleting entries
// it does not own, and by this package, which refuses entries root did
// not write: a record is trusted only when it is owned by root (or by the
// user running microvm, when that is not root), has one link, and is of
// the expected kind. Every check works on a file descriptor taken without
// following the last symlink, so nothing can be swapped between the check
// and the use.
//
// Paths root follows into places the VM user can write (virtiofs share
// sources and socket directories, runner sources) are walked component by
// component: a component the VM user could replace makes the path
// untrusted.
package trust

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/printable"
)

// ErrUntrusted marks an entry root must not rely on: someone other than
// root (or this process's user) owns it, or it is not what root writes.
var ErrUntrusted = errors.New("not trusted")

// UntrustedError says which entry was refused and why.
type UntrustedError struct {
	Path string
	Why  string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("%s: %s", printable.String(e.Path), e.Why)
}

// Is makes errors.Is(err, ErrUntrusted) match.
func (e *UntrustedError) Is(target error) bool { return target == ErrUntrusted }

func untrusted(path, format string, args ...any) error {
	return &UntrustedError{Path: path, Why: fmt.Sprintf(format, args...)}
}

// OwnerOK reports whether a record owned by uid was written by someone
// this process may rely on: root, or this process's own user (a user
// running VMs as itself has no one to defend against).
func OwnerOK(uid uint32) bool {
	return uid == 0 || uid == uint32(os.Geteuid())
}

// kind names a file type in words, for messages.
func kind(mode uint32) string {
	types := map[uint32]fs.FileMode{
		unix.S_IFREG: 0, unix.S_IFDIR: fs.ModeDir, unix.S_IFLNK: fs.ModeSymlink,
		unix.S_IFSOCK: fs.ModeSocket, unix.S_IFIFO: fs.ModeNamedPipe,
		unix.S_IFCHR: fs.ModeDevice | fs.ModeCharDevice, unix.S_IFBLK: fs.ModeDevice,
	}
	t, ok := types[mode&unix.S_IFMT]
	if !ok {
		t = fs.ModeIrregular
	}
	return printable.FileKind(t)
}

// checkOwned refuses st unless it is of type want, owned by a trusted
// owner and has a single link (a hard link to a root-owned file made by
// someone else would otherwise pass as root's).
func checkOwned(path string, st *unix.Stat_t, want uint32) error {
	switch {
	case st.Mode&unix.S_IFMT != want:
		return untrusted(path, "is %s; expected %s", kind(st.Mode), kind(want))
	case !OwnerOK(st.Uid):
		return untrusted(path, "owned by uid %d, not by root: microvm did not write it, so it is ignored (remove it)", st.Uid)
	case st.Nlink != 1 && want != unix.S_IFDIR:
		return untrusted(path, "has %d hard links; a record microvm wrote has one", st.Nlink)
	}
	return nil
}

// openPath opens path's last component without following it, as an
// O_PATH descriptor: it pins the inode for the checks and the use that
// follow without opening a device or FIFO.
func openPath(path string) (int, *unix.Stat_t, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return fd, &st, nil
}

// procFD is the magic link that reopens an O_PATH descriptor.
func procFD(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }
