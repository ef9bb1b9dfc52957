package trust

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/printable"
)

// MaxRecord bounds what ReadFile reads: records are a few hundred bytes.
const MaxRecord = 1 << 20

// ReadFile reads the record at path: a regular file with one link, owned
// by root (see OwnerOK). Anything else is refused with an UntrustedError
// before it is opened for reading, so a FIFO or device planted there
// cannot block or affect root. A missing file is an error matching
// os.ErrNotExist.
func ReadFile(path string) ([]byte, error) {
	fd, st, err := openPath(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := checkOwned(path, st, unix.S_IFREG); err != nil {
		return nil, err
	}
	if st.Size > MaxRecord {
		return nil, untrusted(path, "%d bytes; a record is at most %d", st.Size, MaxRecord)
	}
	f, err := os.OpenFile(procFD(fd), os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", printable.String(path), err)
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxRecord))
}

// Readlink returns the target of the symlink at path if root owns it (see
// OwnerOK). A missing link is an error matching os.ErrNotExist; anything
// else at path is refused with an UntrustedError.
func Readlink(path string) (string, error) {
	fd, st, err := openPath(path)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	if err := checkOwned(path, st, unix.S_IFLNK); err != nil {
		return "", err
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: path, Err: err}
	}
	return string(buf[:n]), nil
}

// IsNotExist reports whether err says the entry is absent.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
