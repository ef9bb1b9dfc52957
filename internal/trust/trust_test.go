package trust

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// vm is the VM user of these tests: nobody, as on Debian.
var vm = User{UID: 65534, GIDs: []uint32{65534}}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: files owned by another user")
	}
}

// vmDir makes a directory like a VM directory: root-owned, sticky,
// writable by the VM user's group.
func vmDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "vm")
	must(t, os.Mkdir(d, 0o755))
	must(t, os.Chown(d, 0, 65534))
	must(t, os.Chmod(d, 0o775|os.ModeSticky))
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantUntrusted(t *testing.T, err error, part string) {
	t.Helper()
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), part) {
		t.Fatalf("got %v; want an untrusted error mentioning %q", err, part)
	}
}

func TestReadFile(t *testing.T) {
	requireRoot(t)
	d := vmDir(t)
	rec := filepath.Join(d, "source.json")
	must(t, os.WriteFile(rec, []byte("root's"), 0o644))
	if b, err := ReadFile(rec); err != nil || string(b) != "root's" {
		t.Fatalf("root's record: %q, %v", b, err)
	}

	forged := filepath.Join(d, "flake")
	must(t, os.WriteFile(forged, []byte("evil"), 0o644))
	must(t, os.Chown(forged, 65534, 65534))
	_, err := ReadFile(forged)
	wantUntrusted(t, err, "owned by uid 65534")

	link := filepath.Join(d, "process")
	must(t, os.Symlink("/etc/shadow", link))
	_, err = ReadFile(link)
	wantUntrusted(t, err, "is a symlink; expected a regular file")

	// A FIFO is refused before it is opened: opening it would block.
	fifo := filepath.Join(d, "fifo")
	must(t, unix.Mkfifo(fifo, 0o644))
	_, err = ReadFile(fifo)
	wantUntrusted(t, err, "is a FIFO")

	hard := filepath.Join(d, "hard")
	must(t, os.Link(rec, hard))
	_, err = ReadFile(hard)
	wantUntrusted(t, err, "2 hard links")

	if _, err := ReadFile(filepath.Join(d, "absent")); !IsNotExist(err) {
		t.Fatalf("absent: %v", err)
	}
}

func TestReadlink(t *testing.T) {
	requireRoot(t)
	d := vmDir(t)
	must(t, os.Symlink("../.store/abc", filepath.Join(d, "current")))
	if got, err := Readlink(filepath.Join(d, "current")); err != nil || got != "../.store/abc" {
		t.Fatalf("root's link: %q, %v", got, err)
	}
	forged := filepath.Join(d, "booted")
	must(t, os.Symlink("../.store/other", forged))
	must(t, os.Lchown(forged, 65534, 65534))
	_, err := Readlink(forged)
	wantUntrusted(t, err, "owned by uid 65534")

	must(t, os.WriteFile(filepath.Join(d, "old"), nil, 0o644))
	_, err = Readlink(filepath.Join(d, "old"))
	wantUntrusted(t, err, "is a regular file; expected a symlink")
}

func TestResolve(t *testing.T) {
	requireRoot(t)
	d := vmDir(t)
	// Created by root in the sticky VM directory: the VM user cannot
	// replace it.
	got, err := Resolve(filepath.Join(d, "data/sub"), vm, true)
	if err != nil || got != filepath.Join(d, "data/sub") {
		t.Fatalf("mkdir in the VM directory: %q, %v", got, err)
	}
	if fi, err := os.Lstat(filepath.Join(d, "data")); err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatalf("data not created as root's directory: %v %v", fi, err)
	}

	// The audit's attack: the VM user made the share source a link to /root.
	must(t, os.Symlink("/root", filepath.Join(d, "evil")))
	must(t, os.Lchown(filepath.Join(d, "evil"), 65534, 65534))
	_, err = Resolve(filepath.Join(d, "evil"), vm, true)
	wantUntrusted(t, err, "which the VM user (uid 65534) can write")
	_, err = Resolve(filepath.Join(d, "evil/sub"), vm, true)
	wantUntrusted(t, err, "evil")
	if _, err := os.Lstat("/root/sub"); err == nil {
		t.Fatal("mkdir followed the VM user's link")
	}

	// A directory the VM user made and could swap for a link.
	must(t, os.Mkdir(filepath.Join(d, "its"), 0o755))
	must(t, os.Chown(filepath.Join(d, "its"), 65534, 65534))
	_, err = Resolve(filepath.Join(d, "its"), vm, false)
	wantUntrusted(t, err, "its")

	// Root's links in root's directories are followed.
	top := t.TempDir()
	must(t, os.Mkdir(filepath.Join(top, "real"), 0o755))
	must(t, os.Symlink("real", filepath.Join(top, "link")))
	must(t, os.Symlink(top+"/link/../real", filepath.Join(top, "abs")))
	for _, p := range []string{"link", "abs", "real/../link"} {
		if got, err := Resolve(filepath.Join(top, p), vm, false); err != nil || got != filepath.Join(top, "real") {
			t.Errorf("%s: %q, %v", p, got, err)
		}
	}
	must(t, os.Symlink("loop", filepath.Join(top, "loop")))
	if _, err := Resolve(filepath.Join(top, "loop"), vm, false); !errors.Is(err, unix.ELOOP) {
		t.Errorf("loop: %v", err)
	}

	// World-writable without the sticky bit: anything in it is replaceable.
	ww := filepath.Join(top, "ww")
	must(t, os.Mkdir(ww, 0o777))
	must(t, os.Chmod(ww, 0o777))
	must(t, os.Mkdir(filepath.Join(ww, "x"), 0o755))
	_, err = Resolve(filepath.Join(ww, "x"), vm, false)
	wantUntrusted(t, err, "ww")
}

func TestChownSocket(t *testing.T) {
	requireRoot(t)
	d := vmDir(t)
	sock := filepath.Join(d, "vfs.sock")
	ln, err := net.Listen("unix", sock)
	must(t, err)
	defer ln.Close()
	must(t, ChownSocket(sock, vm, -1, 65534, 0o770))
	fi, err := os.Lstat(sock)
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); st.Gid != 65534 || fi.Mode().Perm() != 0o770 {
		t.Fatalf("socket: gid %d mode %v", st.Gid, fi.Mode())
	}

	// The audit's race, frozen at its worst moment: the socket's name is a
	// link to a root-only file. It must not be followed.
	secret := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(secret, nil, 0o600))
	swapped := filepath.Join(d, "swapped.sock")
	must(t, os.Symlink(secret, swapped))
	wantUntrusted(t, ChownSocket(swapped, vm, -1, 65534, 0o770), "is a symlink")
	fi, err = os.Stat(secret)
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); st.Gid != 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("followed the link: secret is gid %d mode %v", st.Gid, fi.Mode())
	}
}

func TestCheckTree(t *testing.T) {
	requireRoot(t)
	top := t.TempDir()
	r := filepath.Join(top, "runner")
	must(t, os.MkdirAll(filepath.Join(r, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(r, "bin/microvm-run"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.Symlink("/bin/sh", filepath.Join(r, "bin/tap-up")))
	must(t, CheckTree(r, vm))

	// A script the VM user can edit.
	must(t, os.Chown(filepath.Join(r, "bin/microvm-run"), 65534, 65534))
	wantUntrusted(t, CheckTree(r, vm), "microvm-run: the VM user (uid 65534) can write it")
	must(t, os.Chown(filepath.Join(r, "bin/microvm-run"), 0, 0))

	// An absolute link to a script in the VM user's reach.
	evil := filepath.Join(top, "evil")
	must(t, os.WriteFile(evil, []byte("#!/bin/sh\nid\n"), 0o777))
	must(t, os.Chmod(evil, 0o777))
	must(t, os.Remove(filepath.Join(r, "bin/tap-up")))
	must(t, os.Symlink(evil, filepath.Join(r, "bin/tap-up")))
	wantUntrusted(t, CheckTree(r, vm), "can write "+evil)

	if _, err := CheckFile("/bin/sh", vm); err != nil {
		t.Fatalf("/bin/sh: %v", err)
	}
}
