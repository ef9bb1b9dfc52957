package volume

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/microvm-host/microvm/internal/printable"
)

// Image formats, as the spec names them.
const (
	Raw   = "raw"
	Qcow2 = "qcow2"
)

// Info is what an image's header says.
type Info struct {
	Format string // Raw or Qcow2
	// Size is the disk size the guest sees, in bytes: the file's size for
	// raw images (or the device's), the header's for qcow2.
	Size int64
	// Backing is a qcow2 image's backing file as written in it; "" for
	// none.
	Backing string
}

// ErrCorrupt is wrapped by errors about qcow2 images whose header cannot
// be right.
var ErrCorrupt = errors.New("corrupt qcow2 image")

// otherFormats are the magic numbers of image formats microvm does not
// attach, at their offsets: a hypervisor given one as raw would show the
// guest the container instead of the disk.
var otherFormats = []struct {
	name  string
	off   int
	magic string
}{
	{"VMDK", 0, "KDMV"},
	{"VMDK descriptor", 0, "# Disk DescriptorFile"},
	{"VDI", 64, "\x7f\x10\xda\xbe"},
	{"VHDX", 0, "vhdxfile"},
	{"VHD", 0, "conectix"},
	{"QED", 0, "QED\x00"},
}

// qcow2 header fields (QEMU docs/interop/qcow2.txt); version 3 adds the
// fields from 72 on.
const (
	qcowMagic       = "QFI\xfb"
	qcowV2Header    = 72
	qcowV3Header    = 104
	minClusterBits  = 9
	maxClusterBits  = 21
	maxBackingName  = 1023
	incompatCorrupt = 1 << 1 // qemu found the image inconsistent
	incompatExtData = 1 << 2 // data lives in another file
	incompatKnown   = 1<<5 - 1
)

// Probe reads the header of the image at path and says what it is. A
// qcow2 header whose fields cannot be right is refused with ErrCorrupt;
// images of formats microvm does not attach (VMDK, VDI, VHD(X), QED,
// qcow version 1) are refused naming the format. Anything else is raw.
func Probe(path string) (Info, error) {
	// O_NONBLOCK: a FIFO must not make the open wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return Info{}, err
	} else if m := fi.Mode(); !m.IsRegular() && (m&fs.ModeDevice == 0 || m&fs.ModeCharDevice != 0) {
		return Info{}, fmt.Errorf("%s; expected a regular file or a block device", printable.FileKind(m))
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return Info{}, err
	}
	head := make([]byte, 64<<10)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Info{}, err
	}
	head = head[:n]
	if bytes.HasPrefix(head, []byte(qcowMagic)) {
		return probeQcow2(head, size)
	}
	for _, o := range otherFormats {
		if len(head) >= o.off+len(o.magic) && string(head[o.off:o.off+len(o.magic)]) == o.magic {
			return Info{}, fmt.Errorf("a %s image; microvm attaches raw and qcow2 images only: convert it with qemu-img convert -O qcow2 (or -O raw)", o.name)
		}
	}
	return Info{Format: Raw, Size: size}, nil
}

// probeQcow2 checks the header fields that locate everything else, so a
// truncated or scribbled image is refused before a hypervisor reads
// garbage as metadata. fileSize is the image file's size.
func probeQcow2(h []byte, fileSize int64) (Info, error) {
	bad := func(format string, args ...any) (Info, error) {
		return Info{}, fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(h) < qcowV2Header {
		return bad("the header is cut short at %d bytes", len(h))
	}
	be := binary.BigEndian
	version := be.Uint32(h[4:])
	switch version {
	case 1:
		return Info{}, errors.New("a qcow (version 1) image; microvm attaches raw and qcow2 images only: convert it with qemu-img convert -O qcow2")
	case 2, 3:
	default:
		return bad("version %d; expected 2 or 3", version)
	}
	clusterBits := be.Uint32(h[20:])
	if clusterBits < minClusterBits || clusterBits > maxClusterBits {
		return bad("cluster bits %d; expected %d to %d", clusterBits, minClusterBits, maxClusterBits)
	}
	cluster := int64(1) << clusterBits
	info := Info{Format: Qcow2, Size: int64(be.Uint64(h[24:]))}
	if info.Size < 0 {
		return bad("virtual size %d", be.Uint64(h[24:]))
	}
	if crypt := be.Uint32(h[32:]); crypt != 0 {
		return Info{}, fmt.Errorf("an encrypted qcow2 image (method %d); microvm cannot give hypervisors its key: decrypt it with qemu-img convert", crypt)
	}
	if be.Uint32(h[56:]) == 0 {
		return bad("no refcount table")
	}
	// Every table lies on a cluster boundary inside the file.
	for _, t := range []struct {
		name  string
		off   uint64
		bytes uint64
	}{
		{"L1 table", be.Uint64(h[40:]), uint64(be.Uint32(h[36:])) * 8},
		{"refcount table", be.Uint64(h[48:]), uint64(be.Uint32(h[56:])) * uint64(cluster)},
	} {
		switch {
		case t.bytes > 0 && (t.off == 0 || t.off%uint64(cluster) != 0):
			return bad("%s at offset %d, not on a %d-byte cluster boundary after the header", t.name, t.off, cluster)
		case t.off+t.bytes > uint64(fileSize) || t.off+t.bytes < t.off:
			return bad("%s at offset %d (%d bytes) ends past the end of the %d-byte file", t.name, t.off, t.bytes, fileSize)
		}
	}
	if version == 3 {
		if len(h) < qcowV3Header {
			return bad("the version 3 header is cut short at %d bytes", len(h))
		}
		if hl := be.Uint32(h[100:]); hl < qcowV3Header || int64(hl) > cluster {
			return bad("header length %d; expected %d to the cluster size %d", hl, qcowV3Header, cluster)
		}
		switch incompat := be.Uint64(h[72:]); {
		case incompat&incompatCorrupt != 0:
			return bad("qemu marked it corrupt; repair it with qemu-img check -r all")
		case incompat&incompatExtData != 0:
			return Info{}, errors.New("a qcow2 image with an external data file; microvm attaches self-contained images only: convert it with qemu-img convert -O qcow2")
		case incompat&^incompatKnown != 0:
			return bad("unknown incompatible features %#x", incompat&^incompatKnown)
		}
	}
	if off, n := be.Uint64(h[8:]), be.Uint32(h[16:]); off != 0 {
		end := off + uint64(n)
		switch {
		case n == 0 || n > maxBackingName:
			return bad("a backing file name of %d bytes; expected 1 to %d", n, maxBackingName)
		case end > uint64(cluster) || end > uint64(len(h)) || end < off:
			return bad("the backing file name at offset %d (%d bytes) lies outside the first cluster", off, n)
		}
		info.Backing = string(h[off:end])
	}
	return info, nil
}

// CheckFormat refuses an image whose header does not match format, the
// format the hypervisor will be told.
func CheckFormat(path, format string) (Info, error) {
	info, err := Probe(path)
	if err != nil {
		return Info{}, fmt.Errorf("volume %q: %w", path, err)
	}
	switch {
	case info.Format == format:
		return info, nil
	case format == Raw:
		return Info{}, fmt.Errorf("volume %q is a qcow2 image, but the spec says format = %q: set format = %q for it, or convert it to raw (qemu-img convert -O raw)", path, format, Qcow2)
	default:
		return Info{}, fmt.Errorf("volume %q is not a qcow2 image (no qcow2 header), but the spec says format = %q: leave format out for a raw image", path, format)
	}
}
