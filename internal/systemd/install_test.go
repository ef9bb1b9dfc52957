package systemd

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "system")
	units, err := Render(Options{Microvm: "/usr/bin/microvm"})
	if err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077) // unit files must be 0644 whatever the umask
	defer syscall.Umask(old)
	if err := Install(dir, units); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "sshd.service")
	writeFile(t, other, "not ours\n", 0o600)
	// A stale copy and a right copy with the wrong mode are both fixed.
	stale := filepath.Join(dir, units[0].Name)
	writeFile(t, stale, "stale\n", 0o644)
	badMode := filepath.Join(dir, units[1].Name)
	if err := os.Chmod(badMode, 0o600); err != nil {
		t.Fatal(err)
	}
	before := inodes(t, dir)
	if err := Install(dir, units); err != nil {
		t.Fatal(err)
	}
	after := inodes(t, dir)
	for _, u := range units {
		file := filepath.Join(dir, u.Name)
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(u.Content) {
			t.Errorf("%s: content differs after Install", u.Name)
		}
		if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", u.Name, fi.Mode().Perm())
		}
		rewritten := before[u.Name] != after[u.Name]
		if want := file == stale || file == badMode; rewritten != want {
			t.Errorf("%s: rewritten %v, want %v", u.Name, rewritten, want)
		}
	}
	if b, err := os.ReadFile(other); err != nil || string(b) != "not ours\n" || before["sshd.service"] != after["sshd.service"] {
		t.Errorf("Install touched a file it does not own: %q, %v", b, err)
	}
	if err := Install(dir, []Unit{{Name: "../escape.service"}}); err == nil {
		t.Error("Install accepted a name with a slash")
	}
}

// inodes maps each file in dir to its inode: an atomic rewrite changes it.
func inodes(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]uint64)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = fi.Sys().(*syscall.Stat_t).Ino
	}
	return m
}
