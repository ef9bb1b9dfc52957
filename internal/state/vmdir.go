package state

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// VMDirMode is a VM directory's mode when root runs VMs as the VM user:
// the VM group may create its sockets and images there (microvm.nix's
// g+w), and the sticky bit keeps it from renaming or deleting anything it
// does not own, so root's records (current, booted, old, source, process)
// stay root's. Records the VM user creates under a free name are ignored
// (see package trust). SECURITY.md states the invariant.
const VMDirMode = 0o775 | os.ModeSticky

// Secure makes the VM directory of name root's, group gid, VMDirMode.
// Directories of earlier versions (or microvm.nix's installer) belonged
// to the VM user, who could then replace root's records; run fixes them
// before relying on them. It works on a descriptor of the directory, so a
// link swapped in is not followed.
func (d *Dir) Secure(name string, gid int) error {
	return secureDir(d.VMPath(name), gid)
}

func secureDir(path string, gid int) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("securing VM directory: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("securing VM directory %s: %w", path, err)
	}
	if st.Uid != 0 || int(st.Gid) != gid {
		if err := unix.Fchown(fd, 0, gid); err != nil {
			return fmt.Errorf("securing VM directory %s: chown: %w", path, err)
		}
	}
	want := uint32(0o775 | unix.S_ISVTX)
	if st.Mode&0o7777 != want {
		if err := unix.Fchmod(fd, want); err != nil {
			return fmt.Errorf("securing VM directory %s: chmod: %w", path, err)
		}
	}
	return nil
}
