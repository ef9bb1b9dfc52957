package tomlfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/microvm-host/microvm/internal/printable"
)

// ReadFile reads the configuration file at path, at most limit bytes. It
// refuses anything but a regular file before reading: a FIFO would block
// the reader forever and a device is not a configuration. Errors wrap
// fs.ErrNotExist for a missing file, so callers can fall back to defaults.
func ReadFile(path string, limit int64) ([]byte, error) {
	// Stat first, so a device is never opened: opening one can have
	// effects (a watchdog starts counting, a tape rewinds).
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: if path was swapped for a FIFO since the Stat, opening
	// it does not wait for a writer; the Fstat below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: grew past %d bytes while being read; expected a configuration file of at most %d bytes", path, limit, limit)
	}
	return data, nil
}

func checkRegular(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: is %s; expected a regular file", path, printable.FileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return fmt.Errorf("%s: %d bytes; expected a configuration file of at most %d bytes", path, fi.Size(), limit)
	}
	return nil
}
