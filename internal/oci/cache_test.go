package oci

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/guest/ociinit"
	"github.com/microvm-host/microvm/internal/oci/imageref"
	"github.com/microvm-host/microvm/internal/oci/ocitest"
)

func newCache(t *testing.T) *Cache {
	t.Helper()
	root := t.TempDir()
	return &Cache{Dir: filepath.Join(root, ".images"), Locks: filepath.Join(root, ".locks"), Staging: filepath.Join(root, ".tmp"), Prefix: "vm-test.", Group: -1}
}

// busyboxImage is a one-layer image of the host's static busybox.
func busyboxImage(t *testing.T, cfg v1.Config) v1.Image {
	t.Helper()
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		t.Skipf("needs a static busybox (apt-get install busybox-static): %v", err)
	}
	entries, err := ocitest.Busybox(guest.DefaultBusybox)
	if err != nil {
		t.Fatal(err)
	}
	return image(t, cfg, entries)
}

func configName(t testing.TB, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// checkDisk reads the root disk back: the process config next to the
// image's root, and busybox in it.
func checkDisk(t *testing.T, disk string, wantArgs string) {
	t.Helper()
	fi, err := os.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("disk mode %v; want 0640", fi.Mode())
	}
	var cfg ociinit.Config
	if err := json.Unmarshal([]byte(debugfs(t, disk, "cat /"+ociinit.ConfigFile)), &cfg); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Args, " "); got != wantArgs {
		t.Errorf("args %q; want %q", got, wantArgs)
	}
	if out := debugfs(t, disk, "stat /rootfs/bin/busybox"); !strings.Contains(out, "Mode:  0755") {
		t.Errorf("busybox in the disk:\n%s", out)
	}
}

func TestRootDiskFromArchive(t *testing.T) {
	needRoot(t)
	img := busyboxImage(t, v1.Config{Entrypoint: []string{"sh", "-c"}, Cmd: []string{"echo hi"}})
	archive := filepath.Join(t.TempDir(), "app.tar")
	if err := ocitest.WriteArchive(archive, "app:1", img); err != nil {
		t.Fatal(err)
	}
	ref, _ := imageref.Parse("docker-archive:" + archive)
	res, err := Resolve(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if res.Config != configName(t, img) || res.Manifest != "" {
		t.Errorf("Resolve = %+v", res)
	}
	c := newCache(t)
	disk, err := c.RootDisk(t.Context(), ref, res.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	checkDisk(t, disk, "sh -c echo hi")
	// Cached: the same file, not flattened again (the archive is gone).
	os.Remove(archive)
	if again, err := c.RootDisk(t.Context(), ref, res.Config, ""); err != nil || again != disk {
		t.Errorf("second RootDisk = %q, %v; want the cached %q", again, err, disk)
	}
	if left, _ := os.ReadDir(c.Staging); len(left) > 0 {
		t.Errorf("staging left behind: %v", left)
	}
}

func TestRootDiskFromLayout(t *testing.T) {
	needRoot(t)
	img := busyboxImage(t, v1.Config{Cmd: []string{"/bin/sh"}})
	dir := filepath.Join(t.TempDir(), "layout")
	if err := ocitest.WriteLayout(dir, "v1", img); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(t.Context(), imageref.Ref{Transport: imageref.OCILayout, Path: dir, Tag: "v2"}); err == nil || !strings.Contains(err.Error(), `has no image named "v2"; it has ["v1"]`) {
		t.Errorf("Resolve(unknown tag) = %v", err)
	}
	ref := imageref.Ref{Transport: imageref.OCILayout, Path: dir, Tag: "v1"}
	res, err := Resolve(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := newCache(t).RootDisk(t.Context(), ref, res.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	checkDisk(t, disk, "/bin/sh")
}

// TestRootDiskFromRegistry pulls from go-containerregistry's registry on
// loopback: the build pins the manifest, so pushing another image under
// the tag changes nothing until the runner is rebuilt.
func TestRootDiskFromRegistry(t *testing.T) {
	needRoot(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host + "/test/app:1")
	if err != nil {
		t.Fatal(err)
	}
	first := busyboxImage(t, v1.Config{Cmd: []string{"echo", "first"}})
	if err := remote.Write(tag, first); err != nil {
		t.Fatal(err)
	}
	ref, err := imageref.Parse(tag.String())
	if err != nil || ref.Transport != imageref.Registry {
		t.Fatalf("imageref.Parse(%q) = %+v, %v", tag, ref, err)
	}
	res, err := Resolve(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := first.Digest(); res.Manifest != d.String() {
		t.Errorf("pinned manifest %s; want %s", res.Manifest, d)
	}
	second := busyboxImage(t, v1.Config{Cmd: []string{"echo", "second"}})
	if err := remote.Write(tag, second); err != nil {
		t.Fatal(err)
	}
	c := newCache(t)
	disk, err := c.RootDisk(t.Context(), ref, res.Config, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	checkDisk(t, disk, "echo first")
	// Unpinned, the tag now names the second image: a runner built with
	// the first is outdated.
	_, err = newCache(t).RootDisk(t.Context(), ref, res.Config, "")
	if err == nil || !strings.Contains(err.Error(), "not "+res.Config+" as when the runner was built; rebuild the runner (microvm update)") {
		t.Errorf("RootDisk of a moved tag: %v", err)
	}
}

// TestRootDiskOnce starts ten VMs of one image at once: one flattens,
// the others wait for it and get the same disk.
func TestRootDiskOnce(t *testing.T) {
	needRoot(t)
	img := busyboxImage(t, v1.Config{Cmd: []string{"true"}})
	archive := filepath.Join(t.TempDir(), "app.tar")
	if err := ocitest.WriteArchive(archive, "app:1", img); err != nil {
		t.Fatal(err)
	}
	c := newCache(t)
	ref := imageref.Ref{Transport: imageref.DockerArchive, Path: archive}
	var wg sync.WaitGroup
	disks := make([]string, 10)
	for i := range disks {
		wg.Go(func() {
			d, err := c.RootDisk(context.Background(), ref, configName(t, img), "")
			if err != nil {
				t.Error(err)
			}
			disks[i] = d
		})
	}
	wg.Wait()
	entries, _ := filepath.Glob(filepath.Join(c.Dir, "*.ext4"))
	if len(entries) != 1 || disks[0] != entries[0] || disks[9] != entries[0] {
		t.Errorf("cache holds %v; VMs got %v", entries, disks)
	}
}

// TestRootDiskRefusesEvilArchive flattens a docker-archive whose layer
// escapes the root: the error says how, and nothing is left behind, in the
// cache or the staging area.
func TestRootDiskRefusesEvilArchive(t *testing.T) {
	needRoot(t)
	img := image(t, run, []ocitest.Entry{{Name: "../evil", Body: "x"}})
	archive := filepath.Join(t.TempDir(), "evil.tar")
	if err := ocitest.WriteArchive(archive, "evil:1", img); err != nil {
		t.Fatal(err)
	}
	c := newCache(t)
	_, err := c.RootDisk(t.Context(), imageref.Ref{Transport: imageref.DockerArchive, Path: archive}, configName(t, img), "")
	if err == nil || !strings.Contains(err.Error(), `layer 1 of 1: entry "../evil" leaves the image's root`) {
		t.Errorf("RootDisk = %v", err)
	}
	if _, err := os.Stat(c.Dir); err == nil {
		t.Errorf("the failed flattening made %s", c.Dir)
	}
	if left, _ := os.ReadDir(c.Staging); len(left) > 0 {
		t.Errorf("staging left behind: %v", left)
	}
}

func TestInitrd(t *testing.T) {
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		t.Skipf("needs a static binary to stand in for the init: %v", err)
	}
	c := newCache(t)
	p, err := c.Initrd(t.Context(), guest.DefaultBusybox, "")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("initrd %s: %v, %v", p, fi, err)
	}
	if again, err := c.Initrd(t.Context(), guest.DefaultBusybox, ""); err != nil || again != p {
		t.Errorf("second Initrd = %q, %v; want the cached %q", again, err, p)
	}
	if _, err := c.Initrd(t.Context(), "/etc/passwd", ""); err == nil || !strings.Contains(err.Error(), `init "/etc/passwd"`) {
		t.Errorf("Initrd(not an ELF) = %v", err)
	}
}

func TestLinkReplacesWhatIsThere(t *testing.T) {
	c := newCache(t)
	os.MkdirAll(c.Dir, 0o700)
	src := filepath.Join(c.Dir, "entry")
	os.WriteFile(src, []byte("disk"), 0o640)
	vmDir := t.TempDir()
	// The VM user planted a link where the disk goes.
	os.Symlink("/etc/passwd", filepath.Join(vmDir, "image-root.ext4"))
	if err := c.Link(src, vmDir, "image-root.ext4"); err != nil {
		t.Fatal(err)
	}
	var a, b os.FileInfo
	a, _ = os.Lstat(src)
	b, _ = os.Lstat(filepath.Join(vmDir, "image-root.ext4"))
	if !os.SameFile(a, b) {
		t.Errorf("%s is not a link to the cache entry: %v", b.Name(), b.Mode())
	}
}

// TestPlaceInitrdWith: a VM's own initramfs is the cached one with its
// files appended, 0640 whatever the umask, replacing what the VM user
// put under its name, and the cache entry stays as it was.
func TestPlaceInitrdWith(t *testing.T) {
	c := newCache(t)
	os.MkdirAll(c.Dir, 0o700)
	src := filepath.Join(c.Dir, "initrd")
	os.WriteFile(src, []byte("shared"), 0o640)
	vmDir := t.TempDir()
	os.Symlink("/etc/passwd", filepath.Join(vmDir, "image-initrd.img"))
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	if err := c.PlaceInitrdWith(src, vmDir, "image-initrd.img", map[string][]byte{"etc/x": []byte("y")}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(vmDir, "image-initrd.img"))
	if err != nil {
		t.Fatal(err)
	}
	// "shared", two zeros to a multiple of four, then a newc archive.
	if !strings.HasPrefix(string(got), "shared\x00\x00070701") || !strings.Contains(string(got), "etc/x\x00") {
		t.Errorf("VM initramfs %q", got)
	}
	fi, _ := os.Lstat(filepath.Join(vmDir, "image-initrd.img"))
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
		t.Errorf("VM initramfs mode %v; want a regular file, 0640", fi.Mode())
	}
	if b, _ := os.ReadFile(src); string(b) != "shared" {
		t.Errorf("cache entry changed: %q", b)
	}
	if left, _ := os.ReadDir(c.Staging); len(left) > 0 {
		t.Errorf("staging left behind: %v", left)
	}
}
