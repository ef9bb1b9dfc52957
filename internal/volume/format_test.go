package volume

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// qcow2Header is a valid version 3 header of a 1 GiB image with 64 KiB
// clusters, its tables where qemu-img puts them, in a file of 4 clusters.
func qcow2Header() []byte {
	h := make([]byte, 4*65536)
	be := binary.BigEndian
	copy(h, "QFI\xfb")
	be.PutUint32(h[4:], 3)
	be.PutUint32(h[20:], 16)      // cluster bits
	be.PutUint64(h[24:], 1<<30)   // size
	be.PutUint32(h[36:], 2)       // L1 entries
	be.PutUint64(h[40:], 3*65536) // L1 offset
	be.PutUint64(h[48:], 65536)   // refcount table offset
	be.PutUint32(h[56:], 1)       // refcount table clusters
	be.PutUint32(h[96:], 4)       // refcount order
	be.PutUint32(h[100:], 104)    // header length
	return h
}

func writeImage(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProbe(t *testing.T) {
	info, err := Probe(writeImage(t, qcow2Header()))
	if err != nil || info.Format != Qcow2 || info.Size != 1<<30 || info.Backing != "" {
		t.Fatalf("valid qcow2: %+v, %v", info, err)
	}
	withBacking := qcow2Header()
	binary.BigEndian.PutUint64(withBacking[8:], 512)
	binary.BigEndian.PutUint32(withBacking[16:], 10)
	copy(withBacking[512:], "/base.img")
	if info, err := Probe(writeImage(t, withBacking)); err != nil || info.Backing != "/base.img\x00" {
		t.Errorf("qcow2 with a backing file: %+v, %v", info, err)
	}
	if info, err := Probe(writeImage(t, make([]byte, 8192))); err != nil || info.Format != Raw || info.Size != 8192 {
		t.Errorf("zeros: %+v, %v; want raw of 8192 bytes", info, err)
	}

	corrupt := []struct {
		name, want string
		change     func(h []byte) []byte
	}{
		{"cut short", "the header is cut short at 40 bytes", func(h []byte) []byte { return h[:40] }},
		{"version 4", "version 4; expected 2 or 3", func(h []byte) []byte { binary.BigEndian.PutUint32(h[4:], 4); return h }},
		{"cluster bits", "cluster bits 40; expected 9 to 21", func(h []byte) []byte { binary.BigEndian.PutUint32(h[20:], 40); return h }},
		{"L1 past the end", "L1 table at offset 196608 (16 bytes) ends past the end of the 196610-byte file", func(h []byte) []byte { return h[:3*65536+2] }},
		{"L1 unaligned", "L1 table at offset 1000, not on a 65536-byte cluster boundary", func(h []byte) []byte { binary.BigEndian.PutUint64(h[40:], 1000); return h }},
		{"no refcount table", "no refcount table", func(h []byte) []byte { binary.BigEndian.PutUint32(h[56:], 0); return h }},
		{"marked corrupt", "qemu marked it corrupt; repair it with qemu-img check -r all", func(h []byte) []byte { binary.BigEndian.PutUint64(h[72:], 2); return h }},
		{"unknown feature", "unknown incompatible features 0x100", func(h []byte) []byte { binary.BigEndian.PutUint64(h[72:], 0x100); return h }},
		{"backing name outside", "the backing file name at offset 65530 (100 bytes) lies outside the first cluster", func(h []byte) []byte {
			binary.BigEndian.PutUint64(h[8:], 65530)
			binary.BigEndian.PutUint32(h[16:], 100)
			return h
		}},
	}
	for _, tc := range corrupt {
		_, err := Probe(writeImage(t, tc.change(qcow2Header())))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrCorrupt saying %q", tc.name, err, tc.want)
		}
	}

	if _, err := Probe(t.TempDir()); err == nil || !strings.Contains(err.Error(), "a directory; expected a regular file or a block device") {
		t.Errorf("directory: %v", err)
	}
	for _, tc := range []struct{ name, head, want string }{
		{"vmdk", "KDMV", "a VMDK image; microvm attaches raw and qcow2 images only"},
		{"qcow1", "QFI\xfb\x00\x00\x00\x01" + strings.Repeat("\x00", 64), "a qcow (version 1) image"},
		{"vhdx", "vhdxfile", "a VHDX image"},
	} {
		if _, err := Probe(writeImage(t, []byte(tc.head+strings.Repeat("\x00", 1024)))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckFormat(t *testing.T) {
	q := writeImage(t, qcow2Header())
	raw := writeImage(t, make([]byte, 4096))
	if _, err := CheckFormat(q, Qcow2); err != nil {
		t.Errorf("qcow2 as qcow2: %v", err)
	}
	if _, err := CheckFormat(raw, Raw); err != nil {
		t.Errorf("raw as raw: %v", err)
	}
	if _, err := CheckFormat(q, Raw); err == nil || !strings.Contains(err.Error(), `is a qcow2 image, but the spec says format = "raw": set format = "qcow2" for it`) {
		t.Errorf("qcow2 as raw: %v", err)
	}
	if _, err := CheckFormat(raw, Qcow2); err == nil || !strings.Contains(err.Error(), `is not a qcow2 image (no qcow2 header), but the spec says format = "qcow2"`) {
		t.Errorf("raw as qcow2: %v", err)
	}
	if _, err := CheckFormat(filepath.Join(t.TempDir(), "gone"), Raw); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing image: %v", err)
	}
}

// TestProbeQemuImg reads what qemu-img really makes.
func TestProbeQemuImg(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (Debian package qemu-utils)")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	over := filepath.Join(dir, "over.qcow2")
	for _, args := range [][]string{
		{"create", "-q", "-f", "qcow2", base, "64M"},
		{"create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, over},
	} {
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v: %s", args, err, out)
		}
	}
	if info, err := Probe(base); err != nil || info.Format != Qcow2 || info.Size != 64<<20 {
		t.Errorf("base: %+v, %v", info, err)
	}
	if info, err := Probe(over); err != nil || info.Backing != base || info.Size != 64<<20 {
		t.Errorf("overlay: %+v, %v; want backing %s", info, err, base)
	}
}
