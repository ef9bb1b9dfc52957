// Package ocitest builds OCI images for tests: layers from a list of
// entries, a busybox root file system, and the docker-archive and OCI
// layout forms images are booted from.
package ocitest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one entry of a layer; Type 0 is a regular file.
type Entry struct {
	Name     string
	Type     byte
	Body     string
	Linkname string
	Mode     int64 // 0: 0644 for files, 0755 for directories
	UID, GID int
	Major    int64
	Minor    int64
	Xattrs   map[string]string
}

// Time is every entry's modification time.
var Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Tar is the layer tar of entries, in their order.
func Tar(entries ...Entry) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Linkname: e.Linkname, Mode: e.Mode,
			Uid: e.UID, Gid: e.GID, Devmajor: e.Major, Devminor: e.Minor, ModTime: Time, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		for k, v := range e.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Layer is a layer of entries.
func Layer(entries ...Entry) (v1.Layer, error) {
	data, err := Tar(entries...)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// Busybox is a root file system around the static busybox at path: the
// applets a test process needs, /etc/passwd and /etc/group with root and
// nobody, and the usual directories.
func Busybox(path string) ([]Entry, error) {
	bb, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	entries := []Entry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Body: string(bb), Mode: 0o755},
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{Name: "etc/group", Body: "root:x:0:\nnogroup:x:65534:\n"},
		{Name: "root/", Type: tar.TypeDir, Mode: 0o700},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "dev/", Type: tar.TypeDir},
		{Name: "proc/", Type: tar.TypeDir},
		{Name: "sys/", Type: tar.TypeDir},
	}
	for _, a := range []string{"sh", "echo", "cat", "ls", "sleep", "id", "pwd", "env", "true", "false", "mount", "touch", "stat", "ip", "grep", "ping"} {
		entries = append(entries, Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Linkname: "busybox"})
	}
	return entries, nil
}

// Image is an image of layers, bottom first, with the process cfg.
func Image(cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", goarch
	return mutate.ConfigFile(img, cf)
}

// WriteArchive writes img as a docker-archive (`docker save`'s format)
// tagged tag (NAME:TAG).
func WriteArchive(path, tag string, img v1.Image) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(path, t, img)
}

// WriteLayout writes img into a new OCI layout at dir, named tag.
func WriteLayout(dir, tag string, img v1.Image) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag}))
}

// RandomFiles are mib files of 1 MiB of incompressible bytes in data/,
// the same every time: the bulk of an image for benchmarks.
func RandomFiles(mib int) []Entry {
	rng := rand.NewChaCha8([32]byte{})
	entries := []Entry{{Name: "data/", Type: tar.TypeDir}}
	for i := range mib {
		b := make([]byte, 1<<20)
		rng.Read(b)
		entries = append(entries, Entry{Name: fmt.Sprintf("data/%03d.bin", i), Body: string(b)})
	}
	return entries
}
