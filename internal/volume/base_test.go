package volume

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (Debian package qemu-utils)")
	}
}

func TestEnsureFromBaseOverlay(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "64M").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	img := filepath.Join(dir, "vm", "root.qcow2")
	os.Mkdir(filepath.Dir(img), 0o755)
	ctx := context.Background()
	created, err := EnsureFromBase(ctx, FromBase{Image: img, Base: base})
	if err != nil || !created {
		t.Fatalf("EnsureFromBase = %v, %v", created, err)
	}
	info, err := Probe(img)
	if err != nil || info.Format != Qcow2 || info.Backing != base || info.Size != 64<<20 {
		t.Fatalf("overlay: %+v, %v", info, err)
	}
	// Never replaced, whatever is asked the next time.
	before, _ := os.ReadFile(img)
	if created, err := EnsureFromBase(ctx, FromBase{Image: img, Base: base, SizeMiB: 128}); err != nil || created {
		t.Fatalf("second EnsureFromBase = %v, %v; want nothing done", created, err)
	}
	if after, _ := os.ReadFile(img); string(after) != string(before) {
		t.Fatal("existing overlay changed")
	}
	// Grown beyond the base.
	big := filepath.Join(dir, "vm", "big.qcow2")
	if _, err := EnsureFromBase(ctx, FromBase{Image: big, Base: base, SizeMiB: 128}); err != nil {
		t.Fatal(err)
	}
	if info, _ := Probe(big); info.Size != 128<<20 {
		t.Errorf("grown overlay: %d bytes, want 128 MiB", info.Size)
	}
	if _, err := EnsureFromBase(ctx, FromBase{Image: filepath.Join(dir, "vm", "small.qcow2"), Base: base, SizeMiB: 32}); err == nil ||
		!strings.Contains(err.Error(), "size 32 MiB is smaller than its base") {
		t.Errorf("shrinking: %v", err)
	}
	// A raw copy for hypervisors without backing files.
	raw := filepath.Join(dir, "vm", "copy.img")
	if _, err := EnsureFromBase(ctx, FromBase{Image: raw, Base: base, Convert: true}); err != nil {
		t.Fatal(err)
	}
	if info, err := Probe(raw); err != nil || info.Format != Raw || info.Size != 64<<20 {
		t.Errorf("raw copy: %+v, %v", info, err)
	}
	assertNoTemp(t, filepath.Join(dir, "vm"))
}

// TestEnsureFromBaseBadBase: a missing or corrupt base is refused with
// what is wrong, and leaves nothing behind.
func TestEnsureFromBaseBadBase(t *testing.T) {
	dir := t.TempDir()
	vm := filepath.Join(dir, "vm")
	os.Mkdir(vm, 0o755)
	corrupt := filepath.Join(dir, "corrupt.qcow2")
	h := qcow2Header()
	os.WriteFile(corrupt, h[:3*65536], 0o644) // the L1 table is cut off
	for _, tc := range []struct{ base, want string }{
		{filepath.Join(dir, "gone.qcow2"), "gone.qcow2: no such file or directory"},
		{corrupt, "corrupt qcow2 image: L1 table at offset 196608 (16 bytes) ends past the end"},
		{"relative.qcow2", `base "relative.qcow2" is not absolute`},
	} {
		_, err := EnsureFromBase(context.Background(), FromBase{Image: filepath.Join(vm, "root.qcow2"), Base: tc.base})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("base %s: %v; want %q", tc.base, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(vm); len(entries) != 0 {
		t.Errorf("refused bases left %v", entries)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
