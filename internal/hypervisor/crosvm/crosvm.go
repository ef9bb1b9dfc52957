// Package crosvm generates crosvm command lines. It follows microvm.nix's
// lib/runners/crosvm.nix (reference §4.5) argument for argument, minus the
// store disk. Flags were checked against crosvm's own CLI definition,
// src/crosvm/cmdline.rs (google/crosvm), and the crosvm book
// (https://crosvm.dev/book/); each non-obvious one cites where.
//
// virtiofs: "--vhost-user type=fs" carries no mount tag. crosvm reads the
// device config, the tag included, from the vhost-user backend
// (VHOST_USER_GET_CONFIG; read_config in crosvm
// devices/src/virtio/vhost_user_frontend/mod.rs), and virtiofsd only
// answers it when started with --tag=TAG, as microvm.nix's
// virtiofsd/default.nix does when the hypervisor is crosvm. The host's
// virtiofsd fleet does so for runners whose meta.json names crosvm
// (internal/virtiofsd, Config.AnnounceTags) and refuses the C virtiofsd,
// which has no --tag.
//
// crosvm has no releases: "crosvm version" says 0.1.0 whatever the
// commit, so the generator claims no version range. It was checked
// against google/crosvm f1e797a6 (August 2026).
package crosvm

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// Generator generates crosvm command lines.
type Generator struct{}

// Name is the hypervisor's name in specs and runner metadata.
func (Generator) Name() string { return "crosvm" }

// DefaultBinary is the executable's name on PATH.
func (Generator) DefaultBinary(string) string { return "crosvm" }

// Caps is crosvm's column of the support matrix (reference §4.1).
// GracefulShutdown holds on x86_64 only; see Command.
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		ControlSocket:    true,
		GracefulShutdown: true,
		MacvtapAsFds:     true,
		InterfaceTypes:   []string{"tap", "macvtap"},
		ShareProtos:      []string{"virtiofs", "9p"},
		PCI:              true,
		Vsock:            true,
		Balloon:          true,
		// The cloud-init seed is a --block with ro=true.
		CloudInit: true,
		// crosvm tells qcow2 from raw by the header (disk/src/disk.rs)
		// and opens a qcow2 image's backing file itself
		// (disk/src/qcow/mod.rs). The host checks at start that an image
		// declared raw has no qcow2 header, which crosvm would follow.
		Qcow2:        true,
		BackingFiles: true,
	}
}

// cmdlinePrefix is what microvm.nix puts before the kernel parameters:
// crosvm emulates an 8250 UART on both architectures, hence ttyS0.
const cmdlinePrefix = "console=ttyS0 reboot=k panic=1"

// Command returns the crosvm command line for s on a host with facts f.
func (g Generator) Command(s *spec.Spec, f hypervisor.Facts) (*hypervisor.Command, error) {
	if err := g.check(s, f); err != nil {
		return nil, err
	}
	socket := s.ControlSocket()
	bin := hypervisor.Binary(g, f)
	// -m and -c take a bare number as the first positional key
	// (MemOptions.size, CpuOptions.num_cores; src/crosvm/config.rs tests
	// parse_mem_opts and parse_cpu_opts).
	argv := []string{bin, "run",
		"-m", strconv.Itoa(s.Mem),
		"-c", strconv.Itoa(s.Vcpu),
		// The guest console on crosvm's stdio, which the host attaches
		// to a pty or log (cmdline.rs, --serial).
		"--serial", "type=stdout,console=true,stdin=true",
		"-p", kernelCmdline(s),
	}
	if s.Balloon {
		// Free page reporting is off unless asked for (crosvm
		// src/crosvm/cmdline.rs, --balloon-page-reporting, since July
		// 2022); microvm.nix passes it, and without it the guest's free
		// memory only comes back when the balloon is inflated.
		argv = append(argv, "--balloon-page-reporting")
	} else {
		// crosvm adds a balloon device unless told not to (cmdline.rs,
		// --no-balloon).
		argv = append(argv, "--no-balloon")
	}
	if socket != "" {
		argv = append(argv, "-s", socket)
	}
	for _, v := range hypervisor.Disks(s) {
		// o_direct is the name the crosvm book documents
		// (docs/book/src/devices/block.md); newer crosvm calls it
		// direct and keeps o_direct as an alias.
		opts := fmt.Sprintf("%s,o_direct=%t,ro=%t", v.Image, v.Direct, v.ReadOnly)
		if v.Serial != "" {
			opts += ",id=" + v.Serial
		}
		argv = append(argv, "--block", opts)
	}
	for _, sh := range s.Shares {
		switch sh.Proto {
		case "virtiofs":
			argv = append(argv, "--vhost-user", "type=fs,socket="+sh.Socket)
		case "9p":
			// SRC:TAG then options (src/crosvm/sys/linux/config.rs,
			// SharedDir::from_str); p9 is the default type, spelled out.
			argv = append(argv, "--shared-dir", sh.Source+":"+sh.Tag+":type=p9")
		}
	}
	// Macvtaps are fds bin/microvm-run opens on /dev/tapN, numbered from
	// 3 in interface order (lib/macvtap.nix, reference §5.3).
	var fds []hypervisor.MacvtapFDs
	for _, ifc := range s.Interfaces {
		// tap-name or tap-fd, and mac (cmdline.rs, --net). crosvm opens
		// one queue pair by default, so taps need no multi_queue.
		if ifc.Type == "macvtap" {
			fd := 3 + len(fds)
			fds = append(fds, hypervisor.MacvtapFDs{ID: ifc.ID, FDs: []int{fd}})
			argv = append(argv, "--net", "tap-fd="+strconv.Itoa(fd)+",mac="+ifc.MAC)
		} else {
			argv = append(argv, "--net", "tap-name="+ifc.ID+",mac="+ifc.MAC)
		}
	}
	if s.Vsock.CID != 0 {
		// A bare CID is accepted (docs/book/src/devices/vsock.md); newer
		// crosvm also spells it cid=N.
		argv = append(argv, "--vsock", strconv.Itoa(s.Vsock.CID))
	}
	if initrd := hypervisor.Initrd(s); initrd != "" {
		argv = append(argv, "--initrd", initrd)
	}
	argv = append(argv, s.Kernel)
	for _, d := range s.Devices {
		// Options may follow the positional kernel. iommu=viommu puts
		// the device behind a virtio-iommu (cmdline.rs, --vfio).
		argv = append(argv, "--vfio", "/sys/bus/pci/devices/"+d.Path+",iommu=viommu")
	}
	argv = append(argv, s.Crosvm.ExtraArgs...)

	cmd := &hypervisor.Command{Argv: argv, MacvtapFDs: fds}
	if slices.ContainsFunc(s.Shares, func(sh spec.Share) bool { return sh.Proto == "virtiofs" }) {
		cmd.Notes = append(cmd.Notes, "virtiofs shares need the Rust virtiofsd (the host starts it with --tag=TAG, which crosvm reads from it); the C virtiofsd of qemu 7.2 and older cannot serve them")
	}
	if socket != "" {
		// crosvm binds the socket without unlinking a stale one, so it
		// would not start after a crash (src/crosvm/sys/linux.rs).
		cmd.RemoveBeforeStart = []string{socket}
		// The control commands are this crosvm's subcommands: the binary
		// the runner was made with, not whatever PATH finds (systemd's
		// ExecStop has a minimal one).
		cmd.ControlBinary = bin
		if f.Arch == "x86_64" {
			// crosvm powerbtn returns at once; the shutdown verb waits
			// for the process to exit, which microvm.nix's script did
			// not.
			cmd.Shutdown, cmd.ShutdownSocket = hypervisor.ShutdownCrosvm, socket
		} else {
			// aarch64 machines have no power-management device (pm:
			// None in crosvm aarch64/src/lib.rs), so crosvm answers
			// powerbtn with "Powerbtn not supported" (ENOTSUP,
			// vm_control/src/lib.rs), and nothing else there asks the
			// guest to power off. The host stops the VM with SIGTERM.
			cmd.Notes = append(cmd.Notes, "crosvm has no power button on aarch64: stopping the VM sends SIGTERM, without a graceful guest shutdown")
		}
		if s.Balloon {
			cmd.Balloon, cmd.BalloonSocket = hypervisor.BalloonCrosvm, socket
		}
	}
	return cmd, nil
}

func kernelCmdline(s *spec.Spec) string {
	return strings.Join(append([]string{cmdlinePrefix}, hypervisor.KernelParams(s)...), " ")
}

// check refuses what crosvm cannot do: the generic Caps check, plus values
// that crosvm's option syntax cannot carry.
func (g Generator) check(s *spec.Spec, f hypervisor.Facts) error {
	errs := []error{hypervisor.Check(s, g.Name(), g.Caps())}
	if f.Arch != "x86_64" && f.Arch != "aarch64" {
		errs = append(errs, fmt.Errorf("crosvm on architecture %q: %w", f.Arch, hypervisor.ErrUnsupported))
	}
	// syntax refuses value if it holds one of seps, where crosvm would
	// split it into another option.
	syntax := func(path, value, seps string) {
		if i := strings.IndexAny(value, seps); i >= 0 {
			errs = append(errs, &spec.Error{Path: path, Err: fmt.Errorf(
				"crosvm cannot take %q: its option syntax splits at %q: %w", value, value[i:i+1], hypervisor.ErrUnsupported)})
		}
	}
	for i, v := range s.Volumes {
		syntax(fmt.Sprintf("volumes[%d].image", i), v.Image, ",")
		syntax(fmt.Sprintf("volumes[%d].serial", i), v.Serial, ",")
	}
	for i, sh := range s.Shares {
		if sh.Proto == "9p" {
			syntax(fmt.Sprintf("shares[%d].source", i), sh.Source, ":")
			syntax(fmt.Sprintf("shares[%d].tag", i), sh.Tag, ":")
		} else {
			syntax(fmt.Sprintf("shares[%d].socket", i), sh.Socket, ",")
		}
	}
	for i, ifc := range s.Interfaces {
		syntax(fmt.Sprintf("interfaces[%d].id", i), ifc.ID, ",")
	}
	return errors.Join(errs...)
}
