package qemu

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// plan is one command line being built, with the values microvm.nix
// derives from the spec up front.
type plan struct {
	s *spec.Spec
	f hypervisor.Facts

	machine string
	// pci: virtio devices are virtio-*-pci instead of virtio-mmio
	// (*-device). Shares need it (memfd + vhost-user), as do PCI
	// passthrough and every machine other than microvm.
	pci bool
	usb bool
	// multiQueue: taps are opened with one queue per vcpu.
	multiQueue bool

	args       []string
	macvtapFDs []hypervisor.MacvtapFDs
}

func newPlan(s *spec.Spec, f hypervisor.Facts) *plan {
	p := &plan{s: s, f: f, machine: s.Qemu.Machine, multiQueue: s.Vcpu > 1}
	if f.Arch == "aarch64" && p.machine == "microvm" {
		// qemu-system-aarch64 has no microvm machine; microvm.nix
		// defaults to virt there, but the spec's default is
		// arch-independent.
		p.machine = "virt"
	}
	p.pci = !strings.HasPrefix(p.machine, "microvm") || len(s.Shares) > 0
	for _, d := range s.Devices {
		p.pci = p.pci || d.Bus == "pci"
		p.usb = p.usb || d.Bus == "usb"
	}
	p.macvtapFDs = macvtapFDs(s, p.multiQueue)
	return p
}

func (p *plan) add(args ...string) { p.args = append(p.args, args...) }

// dev names a virtio device for the transport in use.
func (p *plan) dev(name string) string {
	if p.pci {
		return name + "-pci"
	}
	return name + "-device"
}

func (p *plan) hasType(typ string) bool {
	return slices.ContainsFunc(p.s.Interfaces, func(i spec.Interface) bool { return i.Type == typ })
}

// machineConfig is "-M"'s value: the machine and its options sorted by
// key, as microvm.nix renders its attribute set.
func (p *plan) machineConfig() string {
	// KVM only when a probe boot succeeded: the machines here have a
	// /dev/kvm that hangs guests, so microvm.nix's "kvm:tcg" fallback
	// (which only falls back when /dev/kvm is missing) is not enough.
	accel := "tcg"
	if p.f.KVM {
		accel = "kvm"
	}
	opts := [][2]string{{"accel", accel}}
	switch {
	case p.f.Arch == "aarch64":
		opts = append(opts, [2]string{"gic-version", "max"})
	default:
		opts = append(opts, [2]string{"acpi", "on"}, [2]string{"mem-merge", "on"})
		if p.machine == "microvm" {
			// microvm.nix turns the legacy PIT off: under KVM the guest
			// has kvm-clock. Under TCG the PIT is the only reference
			// the kernel can calibrate the TSC against (microvm has no
			// HPET or ACPI PM timer); without one, Debian's 6.1 kernel
			// hangs after "tsc: Unable to calibrate against PIT". Even
			// with it, calibration under TCG can fail on a loaded host;
			// the guest's tsc_early_khz= avoids calibrating at all.
			opts = append(opts,
				[2]string{"pcie", onOff(p.pci)},
				[2]string{"pic", "off"},
				[2]string{"pit", onOff(!p.f.KVM)},
				[2]string{"usb", onOff(p.usb)})
		}
	}
	slices.SortFunc(opts, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
	out := p.machine
	for _, o := range opts {
		out += "," + o[0] + "=" + o[1]
	}
	return out
}

func (p *plan) cpu() {
	if !p.f.KVM {
		// TCG emulates every feature it knows; "host" needs KVM.
		p.add("-cpu", "max")
		return
	}
	p.add("-enable-kvm")
	if p.f.Arch == "x86_64" {
		// -sgx: qemu crashes when SGX is used on microvm machines,
		// https://gitlab.com/qemu-project/qemu/-/issues/2142
		p.add("-cpu", "host,+x2apic,-sgx")
	} else {
		p.add("-cpu", "host")
	}
}

// cmdline is the kernel command line: the console microvm.nix uses for
// the architecture (none without the serial console), then the spec's.
func (p *plan) cmdline() string {
	var parts []string
	if *p.s.Qemu.SerialConsole {
		if p.f.Arch == "x86_64" {
			parts = append(parts, "earlyprintk=ttyS0", "console=ttyS0")
		} else {
			parts = append(parts, "console=ttyAMA0")
		}
	}
	parts = append(parts, "reboot=t", "panic=-1")
	if !p.f.KVM && p.f.Arch == "x86_64" && p.f.TSCKHz > 0 {
		// Under TCG the microvm machine offers the guest no timer to
		// calibrate the TSC against (no HPET, no PM timer, and the PIT
		// fails when the host is busy): the kernel marks the TSC
		// unstable and boots with a stopped clock. Telling it the rate
		// avoids the calibration; qemu's TCG TSC runs at the host's rate.
		parts = append(parts, "tsc_early_khz="+strconv.Itoa(p.f.TSCKHz))
	}
	return strings.Join(append(parts, hypervisor.KernelParams(p.s)...), " ")
}

// macvtapFDs numbers the macvtap fds: one per queue, vcpu queues when
// multi-queue.
func macvtapFDs(s *spec.Spec, multiQueue bool) []hypervisor.MacvtapFDs {
	if multiQueue {
		return hypervisor.NumberMacvtapFDs(s, s.Vcpu)
	}
	return hypervisor.NumberMacvtapFDs(s, 1)
}

// optValue escapes a value inside a qemu "k=v,k=v" option string, where a
// literal comma is written twice.
func optValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
