package oci

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/oci/imageref"
	"github.com/microvm-host/microvm/internal/oci/ocitest"
)

// BenchmarkRootDisk flattens a 100 MiB image (busybox and 100 files of
// 1 MiB of random bytes) from a docker-archive into an ext4 root disk:
// "first" each time into an empty cache, "cached" from a cache that has
// it. As root:
//
//	go test -run '^$' -bench RootDisk -benchtime 3x ./internal/oci/
func BenchmarkRootDisk(b *testing.B) {
	needRoot(b)
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		b.Skipf("needs a static busybox: %v", err)
	}
	entries, err := ocitest.Busybox(guest.DefaultBusybox)
	if err != nil {
		b.Fatal(err)
	}
	base, err := ocitest.Layer(entries...)
	if err != nil {
		b.Fatal(err)
	}
	data, err := ocitest.Layer(ocitest.RandomFiles(100)...)
	if err != nil {
		b.Fatal(err)
	}
	img, err := ocitest.Image(v1.Config{Cmd: []string{"true"}}, base, data)
	if err != nil {
		b.Fatal(err)
	}
	archive := filepath.Join(b.TempDir(), "bench.tar")
	if err := ocitest.WriteArchive(archive, "bench:1", img); err != nil {
		b.Fatal(err)
	}
	config := configName(b, img)
	ref := imageref.Ref{Transport: imageref.DockerArchive, Path: archive}
	newCache := func() *Cache {
		root := b.TempDir()
		return &Cache{Dir: filepath.Join(root, ".images"), Locks: filepath.Join(root, ".locks"), Staging: filepath.Join(root, ".tmp"), Group: -1}
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			c := newCache()
			if _, err := c.RootDisk(b.Context(), ref, config, ""); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(filepath.Dir(c.Dir))
			b.StartTimer()
		}
		b.SetBytes(100 << 20)
	})
	b.Run("cached", func(b *testing.B) {
		c := newCache()
		disk, err := c.RootDisk(b.Context(), ref, config, "")
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.RootDisk(b.Context(), ref, config, ""); err != nil {
				b.Fatal(err)
			}
		}
		var st syscall.Stat_t
		if err := syscall.Stat(disk, &st); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Blocks*512)/(1<<20), "disk-MiB-used")
	})
}

// BenchmarkVMInitrd puts an image VM's initramfs into its directory, as
// every start does: "link", the shared cache entry hard-linked (the image's
// own process), against "own", a copy with the VM's process appended (a
// [process] table, every Pod with env). The initramfs is the real one:
// busybox standing in for the init, the host's newest kernel's modules.
//
//	go test -run '^$' -bench VMInitrd ./internal/oci/
func BenchmarkVMInitrd(b *testing.B) {
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		b.Skipf("needs a static binary to stand in for the init: %v", err)
	}
	modules := ""
	if k, _, err := guest.DefaultKernel(); err == nil {
		modules = filepath.Join("/lib/modules", strings.TrimPrefix(filepath.Base(k), "vmlinuz-"))
	}
	root := b.TempDir()
	c := &Cache{Dir: filepath.Join(root, ".images"), Locks: filepath.Join(root, ".locks"), Staging: filepath.Join(root, ".tmp"), Group: -1}
	initrd, err := c.Initrd(b.Context(), guest.DefaultBusybox, modules)
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(initrd)
	if err != nil {
		b.Fatal(err)
	}
	vmDir := b.TempDir()
	// A Pod's: a command, a few variables and the service links.
	proc := []byte(`{"args":["sh","-c","exec httpd -f -v -p 80"],"env":[` + strings.Repeat(`"KUBERNETES_SERVICE_PORT_HTTPS=443",`, 40) + `"POD=web-7d9f8-abcde"],"workingDir":"/srv/www"}`)
	b.Run("link", func(b *testing.B) {
		for b.Loop() {
			if err := c.Link(initrd, vmDir, "image-initrd.img"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("own", func(b *testing.B) {
		for b.Loop() {
			if err := c.PlaceInitrdWith(initrd, vmDir, "image-initrd.img", map[string][]byte{"etc/microvm-process.json": proc}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(fi.Size())
	})
}
