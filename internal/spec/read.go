package spec

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/microvm-host/microvm/internal/runner"
)

// maxSpecFile bounds what Parse reads: specs are a few KiB, so a path to
// something huge is a mistake, not a spec.
const maxSpecFile = 1 << 20

// readFile reads the spec file at path, which must be a regular file: a
// FIFO would block Parse in open, and /dev/zero would never end.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s; expected a regular file", path, runner.FileKind(fi.Mode()))
	}
	// O_NONBLOCK: a FIFO swapped in after the stat must not block open;
	// the second look refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if got, err := f.Stat(); err != nil || !os.SameFile(fi, got) {
		return nil, fmt.Errorf("%s changed while being read; expected a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSpecFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSpecFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; expected a spec file", path, maxSpecFile)
	}
	return data, nil
}
