package virtiofsd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/trust"
)

// maxSocketPath is the longest path bind(2) takes for a unix socket: 108
// bytes of sun_path including the terminating NUL.
const maxSocketPath = 107

// qemuPidDir is where the QEMU flavor keeps a lock file per socket
// (localstatedir/run/virtiofsd); the Rust one uses SOCKET.pid.
const qemuPidDir = "/var/run/virtiofsd"

// prepare checks the shares and gets the host ready for them: source
// directories are created (microvm.nix's old host did mkdir -p), stale
// sockets removed. With a VM user, sources are replaced by their resolved
// paths, which that user cannot redirect (trust.Resolve). Errors name the
// share.
func prepare(shares []Share, vm *trust.User) error {
	tags := map[string]bool{}
	sockets := map[string]string{}
	for i := range shares {
		s := &shares[i]
		if s.Tag == "" {
			return errors.New("share with empty tag")
		}
		if tags[s.Tag] {
			return fmt.Errorf("share %q: duplicate tag", s.Tag)
		}
		tags[s.Tag] = true
		if other, dup := sockets[s.Socket]; dup {
			return fmt.Errorf("share %q: socket %q already used by share %q", s.Tag, s.Socket, other)
		}
		sockets[s.Socket] = s.Tag
		if err := prepareShare(s, vm); err != nil {
			return fmt.Errorf("share %q: %w", s.Tag, err)
		}
	}
	return nil
}

func prepareShare(s *Share, vm *trust.User) error {
	for _, p := range []string{s.Source, s.Socket} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("path %q is not absolute", p)
		}
	}
	if len(s.Socket) > maxSocketPath || strings.ContainsAny(s.Socket, "\n\x00") {
		return fmt.Errorf("socket path %q: longer than %d bytes or has a newline", s.Socket, maxSocketPath)
	}
	if vm != nil {
		// Created (when missing) and resolved one component at a time;
		// the daemon then gets a path nothing under the VM user's
		// control can redirect.
		src, err := trust.Resolve(s.Source, *vm, true)
		if err != nil {
			return fmt.Errorf("source: %w; root does not export it (make it, and the directories above it, root's)", err)
		}
		s.Source = src
		if _, err := trust.Resolve(filepath.Dir(s.Socket), *vm, false); err != nil {
			return fmt.Errorf("socket directory: %w", err)
		}
	}
	fi, err := os.Stat(s.Source)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(s.Source, 0o755); err != nil {
			return fmt.Errorf("creating source: %w", err)
		}
	case err != nil:
		return fmt.Errorf("source: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("source %q is not a directory", s.Source)
	}
	dir := filepath.Dir(s.Socket)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return fmt.Errorf("socket directory %q: %w", dir, err)
	}
	return removeSocket(s.Socket)
}

// removeSocket removes a (stale) socket file, and nothing else that might
// sit at its path.
func removeSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%q exists and is not a socket", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// cleanup removes what a daemon leaves behind: its socket and pid files.
func cleanup(s Share, flavor Flavor) error {
	err := removeSocket(s.Socket)
	pidFiles := []string{s.Socket + ".pid"}
	if flavor == QEMU {
		pidFiles = append(pidFiles, filepath.Join(qemuPidDir, strings.ReplaceAll(s.Socket, "/", ".")+".pid"))
	}
	for _, p := range pidFiles {
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}
