package guest

import (
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DefaultBusybox is where Debian's busybox-static installs busybox.
const DefaultBusybox = "/bin/busybox"

// Console lines of the guest. ReadyLine comes once mounts and network are
// up, and only if nothing failed; each failure prints a line starting with
// ErrorPrefix instead. PoweringOffLine starts a clean power-off,
// RebootingLine a reboot (microvm.test-cad=reboot); PowerButtonLine and
// IgnoringCADLine say what the guest got.
const (
	ReadyLine       = "microvm-guest: ready"
	PoweringOffLine = "microvm-guest: powering off"
	RebootingLine   = "microvm-guest: rebooting"
	PowerButtonLine = "microvm-guest: power button"
	IgnoringCADLine = "microvm-guest: ignoring Ctrl-Alt-Del"
	ErrorPrefix     = "microvm-guest: error: "
)

//go:embed init.sh
var initScript []byte

//go:embed inittab
var inittab []byte

// acpiHandler is what busybox acpid runs for the power button: its
// built-in tables map KEY_POWER to /etc/acpi/PWRF/00000080.
const acpiHandler = "#!/bin/sh\nexec /init powerbutton\n"

// applets are the busybox applets /init and a console user need.
var applets = []string{
	"acpid", "cat", "dmesg", "echo", "findfs", "grep", "init", "insmod", "ip", "kill",
	"ls", "lsmod", "mkdir", "mount", "poweroff", "ps", "reboot", "sh", "sleep",
	"sync", "udhcpc", "umount", "usleep", "wc",
}

// Options says what goes into the initramfs.
type Options struct {
	// Busybox is a statically linked busybox; "" means DefaultBusybox.
	Busybox string
	// KernelVersion selects /lib/modules/KernelVersion.
	KernelVersion string
	// ModulesDir overrides /lib/modules/KernelVersion.
	ModulesDir string
	// Modules must be loadable or built in; nil means DefaultModules.
	Modules []string
	// OptionalModules are included when the kernel has them; nil means
	// DefaultOptionalModules.
	OptionalModules []string
}

func (o Options) modulesDir() (string, error) {
	switch {
	case o.ModulesDir != "":
		return o.ModulesDir, nil
	case o.KernelVersion != "":
		return filepath.Join("/lib/modules", o.KernelVersion), nil
	}
	return "", errors.New("building initramfs: neither KernelVersion nor ModulesDir is set")
}

// BuildInitramfs writes a gzip-compressed newc cpio archive. The same
// inputs always give the same bytes.
func BuildInitramfs(w io.Writer, o Options) error {
	if o.Busybox == "" {
		o.Busybox = DefaultBusybox
	}
	if o.Modules == nil {
		o.Modules = DefaultModules
	}
	if o.OptionalModules == nil {
		o.OptionalModules = DefaultOptionalModules
	}
	dir, err := o.modulesDir()
	if err != nil {
		return err
	}
	bb, err := readStatic(o.Busybox)
	if err != nil {
		return err
	}
	ix, err := readModuleIndex(dir)
	if err != nil {
		return fmt.Errorf("building initramfs: %w", err)
	}
	order, err := ix.order(o.Modules, o.OptionalModules)
	if err != nil {
		return fmt.Errorf("building initramfs: %w", err)
	}

	a := newArchive()
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "etc/acpi/PWRF", "lib/modules"} {
		a.dir(d)
	}
	// The kernel opens /dev/console before /init runs; without the node
	// /init would start with no stdin, stdout or stderr.
	a.charDev("dev/console", 0o600, 5, 1)
	a.file("bin/busybox", 0o755, bb)
	for _, name := range applets {
		a.symlink("bin/"+name, "busybox")
	}
	a.symlink("sbin/init", "../bin/busybox")
	a.file("init", 0o755, initScript)
	a.file("etc/inittab", 0o644, inittab)
	a.file("etc/acpi/PWRF/00000080", 0o755, []byte(acpiHandler))
	if err := a.modules(ix, order); err != nil {
		return err
	}
	return a.writeGzip(w)
}

// readStatic returns the busybox binary, refusing a dynamically linked
// one: the initramfs has no libc for it.
func readStatic(p string) ([]byte, error) {
	f, err := elf.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading busybox: %w (install busybox-static)", err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("busybox %q is dynamically linked; the guest needs a static one (install busybox-static)", p)
		}
	}
	return os.ReadFile(p)
}
