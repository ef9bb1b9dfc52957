package generate

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DefaultModulesRoot is where the host keeps its kernels' modules.
const DefaultModulesRoot = "/lib/modules"

// KernelRelease is the release (uname -r) of the kernel image at path.
// An x86 bzImage says it in its setup header: kernel_version (offset
// 0x20e, boot protocol 2.00 and later) points, 0x200 bytes further on, at
// "RELEASE (builder) #1 SMP …" (Linux Documentation/arch/x86/boot.rst).
// Other images (arm64's Image) carry no such field; their release is
// taken from the name distributions install them under,
// vmlinuz-RELEASE or Image-RELEASE.
func KernelRelease(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 0x8000)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return "", fmt.Errorf("reading kernel %q: %w", path, err)
	}
	head = head[:n]
	if len(head) > 0x210 && string(head[0x202:0x206]) == "HdrS" && binary.LittleEndian.Uint16(head[0x206:]) >= 0x200 {
		if off := int(binary.LittleEndian.Uint16(head[0x20e:])) + 0x200; off < len(head) {
			s := head[off:]
			if i := bytes.IndexByte(s, 0); i >= 0 {
				s = s[:i]
			}
			if rel, _, _ := strings.Cut(string(s), " "); rel != "" {
				return rel, nil
			}
		}
	}
	for _, prefix := range []string{"vmlinuz-", "vmlinux-", "Image-", "bzImage-"} {
		if rel, ok := strings.CutPrefix(filepath.Base(path), prefix); ok && rel != "" {
			return rel, nil
		}
	}
	return "", fmt.Errorf("cannot tell the release of kernel %q: it is no x86 bzImage, and its name is not vmlinuz-RELEASE", path)
}

// modulesRelease is the release whose modules hostModules attaches,
// checked to be on this host.
func modulesRelease(kernel, modulesRoot string) (string, error) {
	rel, err := KernelRelease(kernel)
	if err != nil {
		return "", fmt.Errorf("hostModules: %w", err)
	}
	if _, err := os.Stat(filepath.Join(modulesRoot, rel, "modules.dep")); err != nil {
		return "", fmt.Errorf("hostModules: kernel %q is release %s, whose modules are not in %s (%w); install them (Debian: linux-image-%s), or leave hostModules out",
			kernel, rel, modulesRoot, err, rel)
	}
	return rel, nil
}
