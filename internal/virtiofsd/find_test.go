package virtiofsd

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// script writes an executable that prints help and exits with rc.
func script(t *testing.T, dir, name, help, rc string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	body := "#!/bin/sh\ncat <<'EOF'\n" + help + "\nEOF\nexit " + rc + "\n"
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	rustHelp = "Launch a virtiofsd backend.\n\nOptions:\n      --shared-dir <SHARED_DIR>  Shared directory path\n      --socket-path <SOCKET_PATH>"
	qemuHelp = "usage: virtiofsd [options]\n    -o source=PATH             shared directory tree\n    --socket-path=PATH"
)

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, help, rc string
		want           Flavor
	}{
		{"rust", rustHelp, "0", Rust},
		{"qemu", qemuHelp, "0", QEMU},
		{"qemu-rc1", qemuHelp, "1", QEMU},
		{"other", "usage: something else", "0", 0},
		{"broken", "segfault", "139", 0},
	} {
		got, err := Detect(script(t, dir, tc.name, tc.help, tc.rc))
		if got != tc.want || (err != nil) != (tc.want == 0) {
			t.Errorf("%s: Detect = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	other := script(t, dir, "other", "usage: something else", "0")
	rust := script(t, dir, "rust", rustHelp, "0")
	path, flavor, err := Find(filepath.Join(dir, "missing"), other, rust)
	if err != nil || path != rust || flavor != Rust {
		t.Errorf("Find = %q, %v, %v; want %q, rust", path, flavor, err, rust)
	}
	if _, _, err := Find(filepath.Join(dir, "missing"), other); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find without a virtiofsd: %v, want %v", err, ErrNotFound)
	}
}

// TestDetectInstalled checks the detection against the real binaries.
func TestDetectInstalled(t *testing.T) {
	for bin, want := range map[string]Flavor{"/usr/lib/qemu/virtiofsd": QEMU, "/usr/libexec/virtiofsd": Rust} {
		if _, err := os.Stat(bin); err != nil {
			t.Logf("%s not installed", bin)
			continue
		}
		if got, err := Detect(bin); got != want || err != nil {
			t.Errorf("Detect(%s) = %v, %v; want %v", bin, got, err, want)
		}
	}
}
