package console

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/term"
)

func TestListen(t *testing.T) {
	dir := t.TempDir()

	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep"), 0o644)
	if _, err := Listen(file); err == nil {
		t.Error("Listen replaced a regular file")
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Errorf("regular file now holds %q", b)
	}

	sock := filepath.Join(dir, "sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := Listen(sock); !errors.Is(err, ErrInUse) {
		t.Errorf("Listen on a live socket: %v, want ErrInUse", err)
	}

	// A crashed monitor leaves its socket file behind.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln, err = Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestRawTerminal(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer tty.Close()
	before, _ := term.GetState(int(tty.Fd()))
	restore, err := RawTerminal(tty)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := term.GetState(int(tty.Fd()))
	restore()
	after, _ := term.GetState(int(tty.Fd()))
	if *raw == *before || *after != *before {
		t.Error("RawTerminal did not make the terminal raw and restore it")
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "notatty"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	restore, err = RawTerminal(f)
	if err != nil {
		t.Fatal(err)
	}
	restore()
}
