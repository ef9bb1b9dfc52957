package volume

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureCreatesOnceAndNeverTouchesExisting(t *testing.T) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not installed (Debian package e2fsprogs)")
	}
	img := filepath.Join(t.TempDir(), "data.img")
	ctx := context.Background()
	created, err := Ensure(ctx, Spec{Image: img, SizeMiB: 8, FsType: "ext4", Label: "data"})
	if err != nil || !created {
		t.Fatalf("Ensure = %v, %v; want created", created, err)
	}
	fi, _ := os.Stat(img)
	if fi.Size() != 8<<20 {
		t.Fatalf("size %d, want 8 MiB", fi.Size())
	}
	if out, err := exec.Command("dumpe2fs", "-h", img).CombinedOutput(); err == nil && !strings.Contains(string(out), "volume name:   data") {
		t.Errorf("label not set:\n%s", out)
	}
	// Data written by the guest survives a second start, even with
	// another size asked for: images are never resized or reformatted.
	f, _ := os.OpenFile(img, os.O_WRONLY, 0)
	f.WriteAt([]byte("guest data"), 4<<20)
	f.Close()
	created, err = Ensure(ctx, Spec{Image: img, SizeMiB: 16, FsType: "ext4"})
	if err != nil || created {
		t.Fatalf("second Ensure = %v, %v; want nothing done", created, err)
	}
	b, _ := os.ReadFile(img)
	if len(b) != 8<<20 || string(b[4<<20:4<<20+10]) != "guest data" {
		t.Fatal("existing image was changed")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(img), ".data.img.tmp-*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestEnsureFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "x.img")
	t.Setenv("PATH", dir) // no mkfs.* anywhere
	if _, err := Ensure(context.Background(), Spec{Image: img, SizeMiB: 1, FsType: "ext4"}); err == nil || !strings.Contains(err.Error(), "mkfs.ext4") {
		t.Fatalf("Ensure without mkfs = %v, want an error naming mkfs.ext4", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed creation left %v", entries)
	}
	if _, err := Ensure(context.Background(), Spec{Image: img, SizeMiB: 1, FsType: "zfs"}); err == nil || !strings.Contains(err.Error(), "unknown file system") {
		t.Fatalf("Ensure zfs = %v", err)
	}
}

func TestEnsureRefusesSizesOutOfRange(t *testing.T) {
	if got := int64(MaxSizeMiB) << 20; got <= 0 || got>>20 != MaxSizeMiB {
		t.Fatalf("MaxSizeMiB %d overflows in bytes: %d", MaxSizeMiB, got)
	}
	if err := CheckSize(MaxSizeMiB); err != nil {
		t.Errorf("CheckSize(MaxSizeMiB) = %v", err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "x.img")
	// 2^44+1 MiB is 2^64+2^20 bytes: it wrapped around to a 1 MiB image.
	for _, mib := range []int{0, -1, 17592186044417, MaxSizeMiB + 1} {
		_, err := Ensure(context.Background(), Spec{Image: img, SizeMiB: mib, FsType: "ext4"})
		if err == nil || !strings.Contains(err.Error(), "MiB is not an image size; expected 1 to 8796093022207 MiB") {
			t.Errorf("Ensure with %d MiB = %v; want the size refused", mib, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("refused size %d left %v", mib, entries)
		}
	}
	// Refused even when the image exists: the arguments are wrong.
	os.WriteFile(img, nil, 0o644)
	if _, err := Ensure(context.Background(), Spec{Image: img, SizeMiB: 17592186044417, FsType: "ext4"}); err == nil {
		t.Error("Ensure with an existing image accepted an overflowing size")
	}
}
