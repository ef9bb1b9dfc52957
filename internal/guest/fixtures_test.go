package guest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// fakeELF writes the smallest file debug/elf accepts: an x86-64 header,
// plus a PT_INTERP program header when dynamic, which is all readStatic
// looks at.
func fakeELF(t *testing.T, dynamic bool) string {
	t.Helper()
	var phnum uint16
	if dynamic {
		phnum = 1
	}
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	le := binary.LittleEndian
	for _, v := range []any{
		uint16(2), uint16(62), uint32(1), // ET_EXEC, EM_X86_64, EV_CURRENT
		uint64(0x401000), uint64(64), uint64(0), // entry, phoff, shoff
		uint32(0), uint16(64), uint16(56), phnum, // flags, ehsize, phentsize, phnum
		uint16(64), uint16(0), uint16(0), // shentsize, shnum, shstrndx
	} {
		binary.Write(&b, le, v)
	}
	if dynamic {
		for _, v := range []any{
			uint32(3), uint32(4), // PT_INTERP, PF_R
			uint64(120), uint64(0), uint64(0), uint64(28), uint64(28), uint64(1),
		} {
			binary.Write(&b, le, v)
		}
		b.WriteString("/lib64/ld-linux-x86-64.so.2\x00")
	}
	p := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(p, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeModulesDep is a modules.dep in the real format, with a '-' in a file
// name and gzip and xz compressed modules.
const fakeModulesDep = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko.gz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/fs/fuse/fuse.ko:
kernel/fs/fuse/virtiofs.ko.xz: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/crypto/crc32c-generic.ko:
`

// fakeModules builds a modules directory whose every module contains
// "module NAME", compressed as modules.dep says. xz needs the host's xz.
func fakeModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skipf("needs xz (apt-get install xz-utils) for the .ko.xz fixture: %v", err)
	}
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("modules.dep", []byte(fakeModulesDep))
	write("modules.builtin", []byte("kernel/fs/ext4/ext4.ko\nkernel/lib/crc16.ko\n"))
	for _, line := range bytes.Split([]byte(fakeModulesDep), []byte("\n")) {
		rel, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		content := []byte("module " + moduleName(string(rel)))
		switch filepath.Ext(string(rel)) {
		case ".gz":
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(content)
			zw.Close()
			content = b.Bytes()
		case ".xz":
			cmd := exec.Command("xz", "-c")
			cmd.Stdin = bytes.NewReader(content)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			content = out
		}
		write(string(rel), content)
	}
	return dir
}

// cpioEntry is one record read back from an archive.
type cpioEntry struct {
	name         string
	mode         uint32
	data         string
	major, minor uint32
}

// readCPIO gunzips and parses a newc archive up to its trailer.
func readCPIO(t *testing.T, gz []byte) []cpioEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := parseCPIO(t, raw)
	return entries
}

// parseCPIO parses an uncompressed newc archive up to its trailer, and
// says how many bytes of raw it took.
func parseCPIO(t *testing.T, raw []byte) ([]cpioEntry, int) {
	t.Helper()
	var out []cpioEntry
	for off := 0; ; {
		if len(raw) < off+110 || string(raw[off:off+6]) != "070701" {
			t.Fatalf("no newc header at offset %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(raw[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("header at %d field %d: %v", off, i, err)
			}
			return uint32(v)
		}
		size, nameSize := int(field(6)), int(field(11))
		name := string(raw[off+110 : off+110+nameSize-1])
		dataOff := pad4(off + 110 + nameSize)
		e := cpioEntry{name: name, mode: field(1), data: string(raw[dataOff : dataOff+size]), major: field(9), minor: field(10)}
		off = pad4(dataOff + size)
		if name == "TRAILER!!!" {
			return out, off
		}
		out = append(out, e)
	}
}
