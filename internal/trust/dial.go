package trust

import (
	"fmt"
	"net"
	"slices"

	"golang.org/x/sys/unix"
)

// DialSocket connects to the unix socket at path, whose directory the VM
// user may write (a hypervisor's socket in its VM directory), without
// letting that user steer the connection: the entry is opened without
// following a symlink, must be a socket with one link, owned by root,
// this process's user or one of owners (the VM user, whose hypervisor
// bound it), and is connected through that descriptor. A link to another
// service's socket swapped in is refused, never followed. The directory
// itself must be one the VM user cannot replace (the VM directory is
// root's). Whatever answers is then at most the VM user's: treat what it
// says as such.
func DialSocket(path string, owners ...int) (net.Conn, error) {
	fd, st, err := openPath(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFSOCK:
		return nil, untrusted(path, "is %s; expected a socket", kind(st.Mode))
	case !OwnerOK(st.Uid) && !slices.Contains(owners, int(st.Uid)):
		return nil, untrusted(path, "owned by uid %d, not by root or the VM user", st.Uid)
	case st.Nlink != 1:
		return nil, untrusted(path, "has %d hard links; a socket has one", st.Nlink)
	}
	// connect(2) on the descriptor's magic link reaches the very inode
	// checked above.
	conn, err := net.Dial("unix", procFD(fd))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", path, err)
	}
	return conn, nil
}
