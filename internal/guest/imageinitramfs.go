package guest

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
)

// ImageModules are the modules an image VM's init loads: the demo guest's
// and overlay, which puts a writable layer over the shared root disk.
var ImageModules = append(append([]string(nil), DefaultModules...), "overlay")

// ImageOptions says what goes into an image VM's initramfs.
type ImageOptions struct {
	// Init is the static init binary (cmd/microvm-init), read with
	// ReadStaticInit.
	Init []byte
	// ModulesDir is the kernel's /lib/modules/VERSION; "" means a kernel
	// with everything built in, and no modules in the initramfs.
	ModulesDir string
}

// BuildImageInitramfs writes the gzip-compressed newc initramfs of an
// image VM: the init as /init and the virtio, ext4, overlay and power
// button modules it loads (ImageModules, in /etc/modules-order). What to
// run comes from the image's root disk, so one initramfs serves every
// image booted with the same kernel and init. The same inputs always give
// the same bytes.
func BuildImageInitramfs(w io.Writer, o ImageOptions) error {
	a := newArchive()
	for _, d := range []string{"dev", "proc", "sys", "mnt/image", "mnt/rw", "mnt/root", "etc", "lib/modules"} {
		a.dir(d)
	}
	a.charDev("dev/console", 0o600, 5, 1)
	a.file("init", 0o755, o.Init)
	if o.ModulesDir != "" {
		ix, err := readModuleIndex(o.ModulesDir)
		if err != nil {
			return fmt.Errorf("building initramfs: %w", err)
		}
		order, err := ix.order(ImageModules, DefaultOptionalModules)
		if err != nil {
			return fmt.Errorf("building initramfs: %w", err)
		}
		if err := a.modules(ix, order); err != nil {
			return err
		}
	}
	return a.writeGzip(w)
}

// maxInit bounds the init binary read into the initramfs.
const maxInit = 64 << 20

// ReadStaticInit reads the init binary from f, refusing anything but a
// statically linked ELF executable: the initramfs has no libc.
func ReadStaticInit(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxInit {
		return nil, fmt.Errorf("init %q is not a regular file of at most %d MiB", f.Name(), maxInit>>20)
	}
	e, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("init %q: %w (build it with CGO_ENABLED=0 go build ./cmd/microvm-init)", f.Name(), err)
	}
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("init %q is dynamically linked; an image VM needs a static one (build it with CGO_ENABLED=0)", f.Name())
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, maxInit))
}

// CheckImageModules reports modules of ImageModules that the kernel whose
// modules are in dir has neither as a module nor built in.
func CheckImageModules(dir string) error {
	ix, err := readModuleIndex(dir)
	if err != nil {
		return err
	}
	_, err = ix.order(ImageModules, nil)
	return err
}

// AppendFiles appends to an initramfs of size bytes, open for writing at
// its end in w, an uncompressed newc archive of files (path → content,
// mode 0644). The kernel unpacks concatenated archives in turn, so these
// files join the others: this is how one VM's own files (its process,
// ociinit.ProcessFile) join the initramfs its image's VMs share, without
// rebuilding it. The kernel looks for a header only at a multiple of four
// bytes, so zeros pad the initramfs to one first.
func AppendFiles(w io.Writer, size int64, files map[string][]byte) error {
	if pad := pad4(int(size%4)) - int(size%4); pad > 0 {
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return err
		}
	}
	a := newArchive()
	for p, data := range files {
		a.file(p, 0o644, data)
	}
	if err := a.writeTo(w); err != nil {
		return fmt.Errorf("appending to the initramfs: %w", err)
	}
	return nil
}
