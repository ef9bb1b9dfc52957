// Package qemu generates qemu command lines. It follows microvm.nix's
// lib/runners/qemu.nix (reference §4.2) argument for argument, minus the
// store disk, and fixes that file's known bugs; each fix is marked where it
// happens.
package qemu

import (
	"fmt"
	"strconv"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// BridgeHelper is qemu-bridge-helper as Debian installs it; microvm.nix
// uses NixOS's setuid wrapper /run/wrappers/bin/qemu-bridge-helper.
const BridgeHelper = "/usr/lib/qemu/qemu-bridge-helper"

// EventsSocket is a second QMP monitor that every generated qemu runner
// opens in its working directory (the VM directory), for whoever
// supervises the run to learn why qemu ended: its SHUTDOWN event says
// "guest-shutdown" or "guest-reset", while qemu exits with status 0
// either way under -no-reboot. The control socket (the spec's socket)
// cannot serve for it: QMP serves one client at a time, and a listener
// there for the whole run would keep bin/microvm-shutdown and
// bin/microvm-balloon out. Nobody needs to connect: with wait=off qemu
// runs the same without a client, so runners work anywhere (systemd, by
// hand) as before. `microvm run` connects for the run (see
// control.WatchQMP).
const EventsSocket = "microvm-events.sock"

// eventsID is the chardev of EventsSocket.
const eventsID = "microvm-events"

// Generator generates qemu command lines.
type Generator struct{}

// Name is the hypervisor's name in specs and runner metadata.
func (Generator) Name() string { return "qemu" }

// Caps is qemu's column of the support matrix (reference §4.1).
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		ControlSocket:    true,
		GracefulShutdown: true,
		MultiQueueTaps:   true,
		MacvtapAsFds:     true,
		InterfaceTypes:   []string{"user", "tap", "macvtap", "bridge"},
		ShareProtos:      []string{"virtiofs", "9p"},
		PCI:              true,
		USB:              true,
		Vsock:            true,
		Balloon:          true,
		User:             true,
		ForwardPorts:     true,
		// The cloud-init seed is a -drive with read-only=on.
		CloudInit: true,
		// -drive format=qcow2; the overlay names its backing file and
		// that file's format (qemu-img create -F), which qemu opens
		// read-only.
		Qcow2:        true,
		BackingFiles: true,
	}
}

// Command returns the qemu command line for s on a host with facts f.
func (g Generator) Command(s *spec.Spec, f hypervisor.Facts) (*hypervisor.Command, error) {
	if err := check(s, f); err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	p := newPlan(s, f)
	socket := s.ControlSocket()

	p.add(binary(f),
		"-name", s.Name,
		"-M", p.machineConfig(),
		"-m", strconv.Itoa(s.Mem),
		"-smp", strconv.Itoa(s.Vcpu),
		"-nodefaults", "-no-user-config",
		// Without a reboot the guest's "reboot" (Ctrl+Alt+Del, panic=-1)
		// ends the process, which is how shutdown and restart work.
		"-no-reboot",
		"-kernel", s.Kernel)
	if initrd := hypervisor.Initrd(s); initrd != "" {
		p.add("-initrd", initrd)
	}
	p.add("-chardev", "stdio,id=stdio,signal=off", "-device", p.dev("virtio-rng"))
	if *s.Qemu.SerialConsole {
		p.add("-serial", "chardev:stdio")
	}
	p.cpu()
	if f.Arch == "x86_64" {
		// The PS/2 controller is the keyboard that receives the
		// Ctrl+Alt+Del of a graceful shutdown.
		p.add("-device", "i8042")
	}
	p.add("-append", p.cmdline(), "-nographic")
	if !p.hasType("bridge") {
		// qemu-bridge-helper must be exec'd, which the sandbox forbids.
		p.add("-sandbox", "on")
	}
	if s.User != "" {
		// microvm.nix passes "-user", which qemu does not have; -runas is
		// the option from qemu 7.2 (Debian 12) on ("-run-with user=" only
		// exists from 9.1, where -runas became deprecated).
		p.add("-runas", s.User)
	}
	if socket != "" {
		p.add("-qmp", "unix:"+optValue(socket)+",server,nowait")
	}
	p.add("-chardev", "socket,id="+eventsID+",path="+EventsSocket+",server=on,wait=off",
		"-mon", "chardev="+eventsID+",mode=control")
	if s.Balloon {
		// microvm.nix once emitted the "virtio-balloon" alias, which is
		// virtio-balloon-pci and fails on a microvm machine without PCI.
		opts := p.dev("virtio-balloon") + ",free-page-reporting=on,id=balloon0"
		if *s.DeflateOnOOM {
			opts += ",deflate-on-oom=on"
		}
		p.add("-device", opts)
	}
	p.volumes()
	p.shares()
	p.interfaces()
	if p.usb && p.machine != "microvm" {
		// The microvm machine's usb=on already creates a (sysbus) xHCI
		// controller; qemu-xhci is PCI and fails there without pcie=on.
		// Other machines have no USB controller by default.
		p.add("-device", "qemu-xhci")
	}
	if s.Vsock.CID != 0 {
		p.add("-device", p.dev("vhost-vsock")+",guest-cid="+strconv.Itoa(s.Vsock.CID))
	}
	p.add(s.Qemu.ExtraArgs...)
	p.devices()

	cmd := &hypervisor.Command{
		Argv:          p.args,
		MacvtapFDs:    p.macvtapFDs,
		TapMultiQueue: p.multiQueue,
	}
	if socket != "" {
		cmd.Shutdown, cmd.ShutdownSocket = hypervisor.ShutdownQMP, socket
		if s.Balloon {
			cmd.Balloon, cmd.BalloonSocket = hypervisor.BalloonQMP, socket
		}
	}
	return cmd, nil
}

// DefaultBinary is the executable's name on PATH: qemu-system-ARCH.
func (Generator) DefaultBinary(arch string) string { return "qemu-system-" + arch }

func binary(f hypervisor.Facts) string { return hypervisor.Binary(Generator{}, f) }

// check refuses what qemu cannot do. The generic spec check covers most of
// it through Caps; this keeps the generator safe on its own.
func check(s *spec.Spec, f hypervisor.Facts) error {
	if f.Arch != "x86_64" && f.Arch != "aarch64" {
		return fmt.Errorf("architecture %q: %w", f.Arch, hypervisor.ErrUnsupported)
	}
	if s.HotplugMem != 0 || (s.HotpluggedMem != nil && *s.HotpluggedMem != 0) {
		return fmt.Errorf("hotplugMem: %w", hypervisor.ErrUnsupported)
	}
	if s.ControlSocket() == EventsSocket {
		return fmt.Errorf("socket %q is the name of the events socket every qemu runner opens; choose another", EventsSocket)
	}
	if n := len(hypervisor.Disks(s)); n > 26 {
		return fmt.Errorf("%d disks: at most 26 (vda to vdz)", n)
	}
	for _, sh := range s.Shares {
		if sh.Proto != "virtiofs" && sh.Proto != "9p" {
			return fmt.Errorf("share %q: proto %q: %w", sh.Tag, sh.Proto, hypervisor.ErrUnsupported)
		}
	}
	for _, i := range s.Interfaces {
		switch i.Type {
		case "user", "tap", "macvtap":
		case "bridge":
			if i.Bridge == "" {
				return fmt.Errorf("interface %q: type bridge needs a bridge", i.ID)
			}
		default:
			return fmt.Errorf("interface %q: type %q: %w", i.ID, i.Type, hypervisor.ErrUnsupported)
		}
	}
	for _, d := range s.Devices {
		if d.Bus != "pci" && d.Bus != "usb" {
			return fmt.Errorf("device %q: bus %q: %w", d.Path, d.Bus, hypervisor.ErrUnsupported)
		}
	}
	return nil
}
