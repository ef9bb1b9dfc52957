package volume

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnsureModules(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian package e2fsprogs)", tool)
		}
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "lib-modules")
	rel := "6.1.0-test-amd64"
	os.MkdirAll(filepath.Join(root, rel, "kernel/fs/isofs"), 0o755)
	os.WriteFile(filepath.Join(root, rel, "kernel/fs/isofs/isofs.ko"), []byte("module"), 0o644)
	os.WriteFile(filepath.Join(root, rel, "modules.dep"), []byte("kernel/fs/isofs/isofs.ko:\n"), 0o644)
	os.Symlink("/usr/src/linux-headers-"+rel, filepath.Join(root, rel, "build")) // dangling, as on Debian
	img := filepath.Join(dir, "vm", "host-modules.img")
	os.Mkdir(filepath.Dir(img), 0o755)
	m := Modules{Image: img, ModulesRoot: root, Release: rel}
	ctx := context.Background()

	if created, err := EnsureModules(ctx, m); err != nil || !created {
		t.Fatalf("EnsureModules = %v, %v", created, err)
	}
	// The image holds RELEASE/ at its root, labelled for the guest's fstab.
	out, err := exec.Command("debugfs", "-R", "cat /"+rel+"/kernel/fs/isofs/isofs.ko", img).Output()
	if err != nil || string(out) != "module" {
		t.Errorf("isofs.ko in the image: %q, %v", out, err)
	}
	if out, _ := exec.Command("dumpe2fs", "-h", img).CombinedOutput(); !strings.Contains(string(out), "volume name:   "+ModulesLabel) {
		t.Errorf("label not %s:\n%s", ModulesLabel, out)
	}
	if created, err := EnsureModules(ctx, m); err != nil || created {
		t.Errorf("unchanged modules: EnsureModules = %v, %v; want nothing done", created, err)
	}
	// A kernel update rewrites modules.dep: the image is made again.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(root, rel, "modules.dep"), later, later)
	if created, err := EnsureModules(ctx, m); err != nil || !created {
		t.Errorf("updated modules: EnsureModules = %v, %v; want made again", created, err)
	}
	assertNoTemp(t, filepath.Dir(img))

	m.Release = "5.10.0-gone-amd64"
	if _, err := EnsureModules(ctx, m); err == nil || !strings.Contains(err.Error(), "hostModules: the host has no modules for kernel 5.10.0-gone-amd64") {
		t.Errorf("missing release: %v", err)
	}
	m.Release = "../etc"
	if _, err := EnsureModules(ctx, m); err == nil || !strings.Contains(err.Error(), "is not a kernel release") {
		t.Errorf("release with a slash: %v", err)
	}
}
