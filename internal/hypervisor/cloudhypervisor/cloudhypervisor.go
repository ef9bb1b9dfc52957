// Package cloudhypervisor generates cloud-hypervisor command lines,
// following microvm.nix's lib/runners/cloud-hypervisor.nix (reference
// §4.3) minus the store disk, in the syntax of cloud-hypervisor ≥ 36: a
// switch followed by all its values (--disk A B, not --disk A --disk B).
package cloudhypervisor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// Generator generates cloud-hypervisor command lines.
type Generator struct{}

// Name is the hypervisor's name in specs and runner metadata.
func (Generator) Name() string { return "cloud-hypervisor" }

// DefaultBinary is the executable's name on PATH.
func (Generator) DefaultBinary(string) string { return "cloud-hypervisor" }

// Releases the generator is written for: 36.0 introduced the syntax of a
// switch followed by all its values; 53.0 is the newest checked
// (cloud-hypervisor ae44c297, v53.0+246).
var (
	oldest = hypervisor.V(36, 0)
	newest = hypervisor.V(53, 0)
)

// Caps is cloud-hypervisor's column of the support matrix (reference §4.1).
// NotifySocket is false although microvm.nix forwards the guest's
// sd_notify: that needs a vsock-stream to datagram relay on the host
// (notify.vsock_8888), which does not exist yet.
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		ControlSocket:    true,
		GracefulShutdown: true,
		MultiQueueTaps:   true,
		MacvtapAsFds:     true,
		InterfaceTypes:   []string{"tap", "macvtap"},
		ShareProtos:      []string{"virtiofs"},
		PCI:              true,
		Vsock:            true,
		Balloon:          true,
		HotplugMem:       true,
		Oldest:           oldest,
		Newest:           newest,
		// The cloud-init seed is a --disk with readonly=on.
		CloudInit: true,
		// image_type=qcow2 from 50.1, detected before. Backing files
		// only from 50.1, with backing_files=on (see checkBackingFiles).
		Qcow2:        true,
		BackingFiles: true,
	}
}

// Command returns the cloud-hypervisor command line for s on a host with
// facts f.
func (g Generator) Command(s *spec.Spec, f hypervisor.Facts) (*hypervisor.Command, error) {
	if err := check(s, f); err != nil {
		return nil, fmt.Errorf("cloud-hypervisor: %w", err)
	}
	if err := hypervisor.CheckRelease(g.Name(), f, g.Caps()); err != nil {
		return nil, err
	}
	if err := checkBackingFiles(s, f.Assume(newest)); err != nil {
		return nil, err
	}
	socket := s.ControlSocket()
	multiQueue := s.Vcpu > 1
	macvtaps := macvtapFDs(s, multiQueue)
	disks, requires := disks(s, f.Assume(newest))

	bin := hypervisor.Binary(g, f)
	args := []string{bin,
		"--cpus", "boot=" + strconv.Itoa(s.Vcpu),
		"--watchdog",
		// The serial port is the console on stdio; the virtio console is
		// not needed.
		"--console", "null",
		"--serial", "tty",
		"--kernel", s.Kernel}
	if initrd := hypervisor.Initrd(s); initrd != "" {
		args = append(args, "--initramfs", initrd)
	}
	args = append(args,
		"--cmdline", cmdline(f.Arch, hypervisor.KernelParams(s)),
		"--seccomp", "true",
		"--memory", memory(s))
	// No --platform oem_strings and notify vsock (cid 3, notify.vsock) as
	// in microvm.nix: without the host relay they only cost the guest a
	// vsock; see Caps.
	if s.Vsock.CID != 0 {
		// docs/vsock.md: the host side is a unix socket; guest-initiated
		// connections to port P go to SOCKET_P.
		args = append(args, "--vsock", "cid="+strconv.Itoa(s.Vsock.CID)+",socket="+vsockSocket(s))
	}
	if s.Balloon {
		// docs/balloon.md: size is the initial balloon size; microvm.nix's
		// initialBalloonMem has no spec option, so it starts empty.
		b := "free_page_reporting=on,size=0M"
		if *s.DeflateOnOOM {
			b = "deflate_on_oom=on," + b
		}
		args = append(args, "--balloon", b)
	}
	args = appendSwitch(args, "--disk", disks)
	var fs []string
	for _, sh := range s.Shares {
		fs = append(fs, "socket="+sh.Socket+",tag="+sh.Tag)
	}
	args = appendSwitch(args, "--fs", fs)
	if socket != "" {
		args = append(args, "--api-socket", socket)
	}
	args = appendSwitch(args, "--net", nets(s, macvtaps, multiQueue))
	var devices []string
	for _, d := range s.Devices {
		// docs/vfio.md. microvm.nix appends these unescaped so a path
		// can be a shell expression; here they are plain arguments.
		devices = append(devices, "path=/sys/bus/pci/devices/"+d.Path)
	}
	args = appendSwitch(args, "--device", devices)
	args = append(args, s.CloudHypervisor.ExtraArgs...)

	cmd := &hypervisor.Command{
		Argv:          args,
		MacvtapFDs:    macvtaps,
		TapMultiQueue: multiQueue,
		Requires:      requires,
	}
	if socket != "" {
		// cloud-hypervisor sometimes stumbles over a stale API socket.
		cmd.RemoveBeforeStart = append(cmd.RemoveBeforeStart, socket)
		cmd.Shutdown, cmd.ShutdownSocket = hypervisor.ShutdownCloudHypervisor, socket
		if s.Balloon {
			cmd.Balloon, cmd.BalloonSocket = hypervisor.BalloonCloudHypervisor, socket
		}
	}
	if s.Vsock.CID != 0 {
		// Binding the vsock socket fails if a crashed run left it behind.
		cmd.RemoveBeforeStart = append(cmd.RemoveBeforeStart, vsockSocket(s))
	}
	return cmd, nil
}

// vsockSocket is the host side of the guest's vsock, relative to the VM
// directory.
func vsockSocket(s *spec.Spec) string { return s.Name + ".vsock" }

func cmdline(arch string, params []string) string {
	console := "earlyprintk=ttyS0 console=ttyS0"
	if arch == "aarch64" {
		console = "console=ttyAMA0"
	}
	return strings.Join(append([]string{console, "reboot=t", "panic=-1"}, params...), " ")
}

// appendSwitch appends the switch followed by all values, or nothing.
func appendSwitch(args []string, sw string, values []string) []string {
	if len(values) == 0 {
		return args
	}
	return append(append(args, sw), values...)
}

func check(s *spec.Spec, f hypervisor.Facts) error {
	if f.Arch != "x86_64" && f.Arch != "aarch64" {
		return fmt.Errorf("architecture %q: %w", f.Arch, hypervisor.ErrUnsupported)
	}
	if s.User != "" {
		return fmt.Errorf("user %q: %w", s.User, hypervisor.ErrUnsupported)
	}
	if len(s.ForwardPorts) > 0 {
		return fmt.Errorf("forwardPorts: %w", hypervisor.ErrUnsupported)
	}
	for _, sh := range s.Shares {
		if sh.Proto != "virtiofs" {
			return fmt.Errorf("share %q: proto %q (only virtiofs): %w", sh.Tag, sh.Proto, hypervisor.ErrUnsupported)
		}
	}
	for _, i := range s.Interfaces {
		if i.Type != "tap" && i.Type != "macvtap" {
			return fmt.Errorf("interface %q: type %q (only tap and macvtap): %w", i.ID, i.Type, hypervisor.ErrUnsupported)
		}
	}
	for _, d := range s.Devices {
		if d.Bus != "pci" {
			return fmt.Errorf("device %q: bus %q (only pci): %w", d.Path, d.Bus, hypervisor.ErrUnsupported)
		}
	}
	return nil
}
