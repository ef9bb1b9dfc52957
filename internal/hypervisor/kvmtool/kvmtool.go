// Package kvmtool generates kvmtool (lkvm) command lines. It follows
// microvm.nix's lib/runners/kvmtool.nix (reference §4.6), minus the store
// disk, and fixes that file's bugs where they happen. Flags were checked
// against kvmtool's option table in builtin-run.c and the parsers it calls
// (disk/core.c, virtio/net.c, virtio/9p.c; kvmtool/kvmtool on GitHub,
// checked at b48735e).
//
// lkvm edits the kernel command line: unless --nodefaults, it prepends its
// own console and platform options, and appends "root=/dev/vda rw" when
// the parameters have no root= (builtin-run.c, kvm_run_set_real_cmdline).
// So the generator passes root= for the root volume (hypervisor.RootParams)
// whatever its position; without one, lkvm's root=/dev/vda stays.
//
// Volumes are raw only: kvmtool's disk/qcow.c reads qcow2 version 2 alone
// (qemu-img makes version 3 by default, which lkvm would attach as a raw
// image) and ignores backing files.
//
// kvmtool has no releases ("lkvm version" says 3.18.0 whatever the
// commit), so the generator claims no version range.
package kvmtool

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// Generator generates lkvm command lines.
type Generator struct{}

// Name is the hypervisor's name in specs and runner metadata.
func (Generator) Name() string { return "kvmtool" }

// DefaultBinary is the executable's name on PATH.
func (Generator) DefaultBinary(string) string { return "lkvm" }

// Caps is kvmtool's column of the support matrix (reference §4.1), except
// MacvtapAsFds: microvm.nix let the shell expand /dev/tap$(< ifindex) into
// the command; a pure generator cannot, so macvtaps come as fds.
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		MacvtapAsFds:   true,
		InterfaceTypes: []string{"user", "tap", "macvtap"},
		ShareProtos:    []string{"9p"},
		PCI:            true,
		Vsock:          true,
		Balloon:        true,
		// The cloud-init seed is a -d with ro; it counts against
		// maxDisks.
		CloudInit: true,
	}
}

const (
	cmdlinePrefix = "console=ttyS0 reboot=k panic=1"
	// maxDisks is kvmtool's MAX_DISK_IMAGES (include/kvm/disk-image.h);
	// more -d options make lkvm die at start.
	maxDisks = 4
)

// Command returns the lkvm command line for s on a host with facts f.
func (g Generator) Command(s *spec.Spec, f hypervisor.Facts) (*hypervisor.Command, error) {
	if err := g.check(s, f); err != nil {
		return nil, err
	}
	bin := hypervisor.Binary(g, f)
	argv := []string{bin, "run",
		// The name also names the control socket $HOME/.lkvm/NAME.sock,
		// which "lkvm balloon -n NAME" talks to.
		"--name", s.Name,
		// -m takes MiB when no unit is given (builtin-run.c,
		// parse_mem_unit).
		"-m", strconv.Itoa(s.Mem),
		"-c", strconv.Itoa(s.Vcpu),
		"--console", "serial",
		"--rng",
		"-k", s.Kernel,
	}
	if initrd := hypervisor.Initrd(s); initrd != "" {
		argv = append(argv, "-i", initrd)
	}
	argv = append(argv, "-p", strings.Join(append([]string{cmdlinePrefix}, hypervisor.KernelParams(s)...), " "))
	if s.Balloon {
		argv = append(argv, "--balloon")
	}
	for _, v := range hypervisor.Disks(s) {
		// The image path, not the literal word "image" that microvm.nix
		// passed until May 2026 (its commit 9ddb425), when no volume
		// attached.
		opts := v.Image
		if v.Direct {
			opts += ",direct"
		}
		if v.ReadOnly {
			opts += ",ro"
		}
		argv = append(argv, "-d", opts)
	}
	for _, sh := range s.Shares {
		argv = append(argv, "--9p", sh.Source+","+sh.Tag)
	}
	if len(s.Interfaces) == 0 {
		// Fixed: without any -n, lkvm adds a user-mode NIC of its own
		// (virtio/net.c, virtio_net__init); the spec asked for none.
		argv = append(argv, "-n", "mode=none")
	}
	var fds []hypervisor.MacvtapFDs
	for _, ifc := range s.Interfaces {
		switch ifc.Type {
		case "macvtap":
			// Fixed: microvm.nix expanded /dev/tap$(< /sys/class/net/ID/
			// ifindex) in the shell. Instead bin/microvm-run opens the
			// macvtap, as for crosvm, and lkvm takes the fd (fd=, virtio/
			// net.c). tapif=ID only makes lkvm leave the interface's
			// addresses and link state alone (skipconf); the TUNSETIFF it
			// still issues is a no-op on a macvtap fd apart from the flags.
			fd := 3 + len(fds)
			fds = append(fds, hypervisor.MacvtapFDs{ID: ifc.ID, FDs: []int{fd}})
			argv = append(argv, "-n", "mode=tap,tapif="+ifc.ID+",fd="+strconv.Itoa(fd)+",guest_mac="+ifc.MAC)
		default:
			// With tapif, lkvm attaches to the tap the host created and
			// leaves its addresses and link state alone; user mode ignores
			// tapif (virtio/net.c).
			argv = append(argv, "-n", "mode="+ifc.Type+",tapif="+ifc.ID+",guest_mac="+ifc.MAC)
		}
	}
	for _, d := range s.Devices {
		// Fixed: every pci device works. microvm.nix's pattern { bus,
		// path } lacked "...", so any device carrying its standard qemu
		// sub-option failed to evaluate.
		argv = append(argv, "--vfio-pci="+d.Path)
	}
	if s.Vsock.CID != 0 {
		argv = append(argv, "--vsock", strconv.Itoa(s.Vsock.CID))
	}
	argv = append(argv, s.Kvmtool.ExtraArgs...)

	cmd := &hypervisor.Command{
		Argv:       argv,
		MacvtapFDs: fds,
		// lkvm keeps its control sockets in $HOME/.lkvm and removes a
		// stale one itself (kvm-ipc.c, kvm__create_socket).
		HomeIsVMDir: true,
	}
	// No Shutdown: "lkvm stop" kills the guest rather than powering it
	// off, so the host's SIGTERM is no worse (microvm.nix: canShutdown =
	// false).
	if s.Balloon {
		// The balloon verb runs "lkvm balloon -i|-d MB -n NAME" with HOME
		// set to the VM directory; the socket names the VM. The fix of
		// microvm.nix's never-deflating script (it matched \d, which bash
		// regexes lack) lives in that verb.
		cmd.Balloon = hypervisor.BalloonKvmtool
		cmd.BalloonSocket = ".lkvm/" + s.Name + ".sock"
		// lkvm balloon is this lkvm's subcommand: the binary the runner
		// was made with, not whatever PATH finds.
		cmd.ControlBinary = bin
	}
	return cmd, nil
}

// check refuses what kvmtool cannot do: the generic Caps check plus
// kvmtool's own limits.
func (g Generator) check(s *spec.Spec, f hypervisor.Facts) error {
	errs := []error{hypervisor.Check(s, g.Name(), g.Caps())}
	refuse := func(path, format string, args ...any) {
		errs = append(errs, &spec.Error{Path: path, Err: fmt.Errorf("kvmtool "+format+": %w",
			append(args, hypervisor.ErrUnsupported)...)})
	}
	if f.Arch != "x86_64" && f.Arch != "aarch64" {
		refuse("", "on architecture %q", f.Arch)
	}
	if n := len(hypervisor.Disks(s)); n > maxDisks {
		refuse("volumes", "attaches at most %d disks, not %d%s", maxDisks, n, hypervisor.SeedNote(s))
	}
	if hypervisor.Initrd(s) == "" && len(s.Volumes) == 0 {
		// Without a disk or an initrd lkvm builds a root file system
		// of its own in $HOME/.lkvm/default and shares the host's / with
		// the guest as "hostfs" (builtin-run.c, kvm_cmd_run_init): the
		// guest would see the host's files with the VM user's rights.
		refuse("initrd", "needs an initrd or a volume: without either, lkvm boots its own root file system and shares the host's / with the guest")
	}
	// syntax refuses value if it holds one of seps, where lkvm would
	// split it.
	syntax := func(path, value, seps string) {
		if i := strings.IndexAny(value, seps); i >= 0 {
			refuse(path, "cannot take %q: its option syntax splits at %q", value, value[i:i+1])
		}
	}
	for i, v := range s.Volumes {
		if v.Serial != "" {
			refuse(fmt.Sprintf("volumes[%d].serial", i), "cannot give a disk a serial")
		}
		syntax(fmt.Sprintf("volumes[%d].image", i), v.Image, ",") // disk/core.c
	}
	for i, sh := range s.Shares {
		syntax(fmt.Sprintf("shares[%d].source", i), sh.Source, ",") // virtio/9p.c
	}
	for i, ifc := range s.Interfaces {
		syntax(fmt.Sprintf("interfaces[%d].id", i), ifc.ID, ",=") // virtio/net.c strtok
	}
	users := 0
	for i, ifc := range s.Interfaces {
		if ifc.Type == "user" {
			users++
			if users == 2 {
				// virtio/net.c: "Only one usermode network device allowed at a time".
				refuse(fmt.Sprintf("interfaces[%d].type", i), "allows one user interface")
			}
		}
	}
	return errors.Join(errs...)
}
