package tomlfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("a = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(good, 6); err != nil || string(b) != "a = 1\n" {
		t.Errorf("ReadFile(good) = %q, %v; want its contents", b, err)
	}
	if _, err := ReadFile(good, 5); err == nil || !strings.Contains(err.Error(), "6 bytes; expected a configuration file of at most 5 bytes") {
		t.Errorf("ReadFile(good, 5) = %v; want a size error", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.toml"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v; want fs.ErrNotExist", err)
	}
	if _, err := ReadFile(dir, 10); err == nil || !strings.Contains(err.Error(), "is a directory; expected a regular file") {
		t.Errorf("ReadFile(dir) = %v; want a directory error", err)
	}
	if _, err := ReadFile("/dev/null", 10); err == nil || !strings.Contains(err.Error(), "is a character device; expected a regular file") {
		t.Errorf("ReadFile(/dev/null) = %v; want a device error", err)
	}
}

// TestReadFileFIFO: a FIFO without a writer blocked os.ReadFile forever.
func TestReadFileFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "host.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadFile(fifo, 1<<20)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a FIFO; expected a regular file") {
			t.Errorf("ReadFile(fifo) = %v; want a FIFO error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFile(fifo) blocks")
	}
}
