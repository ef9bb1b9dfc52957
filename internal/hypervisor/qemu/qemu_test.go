package qemu_test

import (
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = qemu.Generator{}

func TestGolden(t *testing.T) {
	hvtest.Run(t, qemu.Generator{}, append(hvtest.Standard(),
		hvtest.Case{Name: "kvm", Facts: hvtest.Facts(hypervisor.Facts{Arch: "x86_64", KVM: true, Binary: "/usr/bin/kvm"})},
		hvtest.Case{Name: "aarch64", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", KVM: true}),
			Spec: func(s *spec.Spec) {
				s.Interfaces = []spec.Interface{{Type: "tap", ID: "vm-tap0", MAC: "02:00:00:00:00:01"}}
			}},
		hvtest.Case{Name: "riscv", Facts: hvtest.Facts(hypervisor.Facts{Arch: "riscv64"})},
		// Multi-queue on a PCI machine: mq=on only on tap and macvtap
		// (microvm.nix#553), not on user and bridge.
		hvtest.Case{Name: "multiqueue-q35", Spec: func(s *spec.Spec) {
			s.Vcpu = 2
			s.Qemu.Machine = "q35"
			s.Interfaces = []spec.Interface{
				{Type: "tap", ID: "vm-tap0", MAC: "02:00:00:00:00:01"},
				{Type: "macvtap", ID: "vm-mv0", MAC: "02:00:00:00:00:02", Macvtap: spec.Macvtap{Link: "eth0", Mode: "bridge"}},
				{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"},
				{Type: "bridge", ID: "vm-br0", MAC: "02:00:00:00:00:04", Bridge: "br0"},
			}
		}},
		hvtest.Case{Name: "forward-ports", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"}}
			s.ForwardPorts = []spec.ForwardPort{
				{Host: spec.Endpoint{Port: 2222}, Guest: spec.Endpoint{Port: 22}},
				{From: "host", Proto: "udp", Host: spec.Endpoint{Address: "127.0.0.1", Port: 5353}, Guest: spec.Endpoint{Address: "10.0.2.15", Port: 53}},
				{From: "guest", Host: spec.Endpoint{Address: "127.0.0.1", Port: 80}, Guest: spec.Endpoint{Address: "10.0.2.100", Port: 8080}},
			}
		}},
		hvtest.Case{Name: "usb", Spec: func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "usb", Path: "vendorid=0x1234,productid=0x5678"}, {Bus: "usb", Path: "hostbus=1,hostaddr=2"}}
		}},
		hvtest.Case{Name: "usb-q35", Spec: func(s *spec.Spec) {
			s.Qemu.Machine = "q35"
			s.Devices = []spec.Device{{Bus: "usb", Path: "hostbus=1,hostaddr=2"}}
		}},
		hvtest.Case{Name: "no-socket", Spec: func(s *spec.Spec) {
			s.Socket = new(string)
			s.Balloon = true
		}},
		hvtest.Case{Name: "options", Spec: func(s *spec.Spec) {
			sock := "/run/vm,1.sock"
			s.Socket = &sock
			s.User = "microvm"
			s.Qemu.SerialConsole = new(bool)
			s.DeflateOnOOM = new(bool)
			s.Balloon = true
			s.Kernel = hypervisor.RunnerPath("share/microvm/kernel")
			s.Initrd = ""
			s.KernelParams = nil
			s.Volumes = []spec.Volume{{Image: "a,b.img", Size: 1, MountPoint: "/a"}}
			s.Qemu.ExtraArgs = []string{"-smbios", "type=1,serial=vm"}
		}},
		hvtest.Case{Name: "hotplug", Spec: func(s *spec.Spec) { s.HotplugMem = 1024 }},
		hvtest.Case{Name: "events-socket-taken", Spec: func(s *spec.Spec) {
			sock := qemu.EventsSocket
			s.Socket = &sock
		}},
		hvtest.Case{Name: "bad-interface", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "vde", ID: "vm-x"}}
		}},
	))
}

func TestCaps(t *testing.T) {
	hvtest.CheckCaps(t, qemu.Generator{}, hvtest.X86)
}
