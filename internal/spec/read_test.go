package spec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestParseRefusesWhatIsNotAFile: a FIFO blocked Parse in open forever,
// /dev/zero never ended.
func TestParseRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# padding\n", maxSpecFile/10+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:        fifo + ": is a FIFO; expected a regular file",
		"/dev/zero": "/dev/zero: is a character device; expected a regular file",
		dir:         dir + ": is a directory; expected a regular file",
		big:         big + ": 1048580 bytes; expected a configuration file of at most 1048576 bytes",
	} {
		if _, err := Parse(path); err == nil || err.Error() != "reading spec: "+want {
			t.Errorf("Parse(%s) = %v; want %q", path, err, want)
		}
	}
}
