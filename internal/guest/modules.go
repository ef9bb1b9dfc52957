package guest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// DefaultModules are the modules the guest loads: virtio transports for the
// microvm machine (mmio) and q35 (pci), the devices microvm.nix attaches,
// ext4 for volumes, vsock, and the ACPI power button plus evdev so acpid
// sees the button. ext4 and jbd2 find crc32c through the crypto API, a
// soft dependency that modules.dep does not list, so it is named here.
// Modules built into the kernel are fine; any other missing module is an
// error.
var DefaultModules = []string{
	"virtio_mmio", "virtio_pci",
	"virtio_blk", "virtio_net", "virtio_console",
	"virtiofs", "crc32c_generic", "ext4",
	"vmw_vsock_virtio_transport",
	"button", "evdev",
}

// DefaultOptionalModules are loaded when the kernel has them. Debian's
// cloud kernel is built without CONFIG_NET_9P, so 9p shares only work with
// a kernel that has it (Debian's generic linux-image-amd64 does). isofs
// lets the guest read a cloud-init seed (microvm.test-cidata).
var DefaultOptionalModules = []string{"9p", "9pnet_virtio", "isofs"}

// moduleIndex is what modules.dep and modules.builtin say about a kernel.
type moduleIndex struct {
	dir     string
	file    map[string]string   // module name → path relative to dir
	deps    map[string][]string // module name → everything it needs
	builtin map[string]bool
}

func readModuleIndex(dir string) (*moduleIndex, error) {
	ix := &moduleIndex{dir: dir, file: map[string]string{}, deps: map[string][]string{}, builtin: map[string]bool{}}
	dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("reading module index: %w", err)
	}
	for i, line := range strings.Split(string(dep), "\n") {
		if line == "" {
			continue
		}
		mod, needs, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want \"module.ko: deps...\", got %q", filepath.Join(dir, "modules.dep"), i+1, line)
		}
		name := moduleName(mod)
		ix.file[name] = mod
		for _, d := range strings.Fields(needs) {
			ix.deps[name] = append(ix.deps[name], moduleName(d))
		}
	}
	// modules.builtin is optional: a kernel without modules has none.
	builtin, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading module index: %w", err)
	}
	for _, line := range strings.Fields(string(builtin)) {
		ix.builtin[moduleName(line)] = true
	}
	return ix, nil
}

// moduleName turns "kernel/fs/fuse/virtiofs.ko.xz" into "virtiofs". The
// kernel treats '-' and '_' in module names alike; '_' is canonical.
func moduleName(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// order returns the modules to load, every dependency before its users.
// Wanted modules that are built in need nothing; optional ones that are
// missing are skipped; missing required ones are an error naming each.
func (ix *moduleIndex) order(want, optional []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, d := range ix.deps[m] {
			visit(d)
		}
		out = append(out, m)
	}
	var errs []error
	for i, m := range append(append([]string(nil), want...), optional...) {
		m = moduleName(m)
		switch {
		case ix.file[m] != "":
			visit(m)
		case ix.builtin[m]:
		case i >= len(want):
		default:
			errs = append(errs, fmt.Errorf("kernel module %q is neither in %s nor built in", m, filepath.Join(ix.dir, "modules.dep")))
		}
	}
	return out, errors.Join(errs...)
}

// read returns the uncompressed module, so the guest can use plain insmod
// whatever its busybox was built with. gzip is decompressed here; xz and
// zstd need the host's xz or zstd, as the standard library has neither.
func (ix *moduleIndex) read(name string) ([]byte, error) {
	p := filepath.Join(ix.dir, ix.file[name])
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading kernel module %q: %w", name, err)
	}
	switch {
	case strings.HasSuffix(p, ".ko"):
		return data, nil
	case strings.HasSuffix(p, ".ko.gz"):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("decompressing kernel module %q: %w", p, err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("decompressing kernel module %q: %w", p, err)
		}
		return out, nil
	case strings.HasSuffix(p, ".ko.xz"):
		return decompress(p, data, "xz", "-dc")
	case strings.HasSuffix(p, ".ko.zst"):
		return decompress(p, data, "zstd", "-dcq")
	}
	return nil, fmt.Errorf("kernel module %q: unknown compression", p)
}

func decompress(p string, data []byte, argv ...string) ([]byte, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("decompressing kernel module %q: %v: %w: %s", p, argv, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// HasModule reports whether the kernel whose modules are in dir has the
// module, loadable or built in. Tests use it to skip what a kernel lacks.
func HasModule(dir, name string) (bool, error) {
	ix, err := readModuleIndex(dir)
	if err != nil {
		return false, err
	}
	name = moduleName(name)
	return ix.file[name] != "" || ix.builtin[name], nil
}
