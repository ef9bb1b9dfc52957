package stratovirt_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/hypervisor/stratovirt"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = stratovirt.Generator{}

// v24 is StratoVirt 2.4.0, the last release whose default build has every
// device; aarch64 likewise.
var (
	v24     = release("2.4.0")
	aarch64 = hypervisor.Facts{Arch: "aarch64", KVM: true, Version: "2.4.0"}
)

func release(v string) hypervisor.Facts {
	f := hvtest.X86
	f.Binary, f.Version = "/usr/bin/stratovirt", v
	return f
}

func TestGolden(t *testing.T) {
	cases := append(hvtest.Standard(),
		hvtest.Case{Name: "shares-virtiofs", Spec: func(s *spec.Spec) {
			s.Shares = []spec.Share{
				{Proto: "virtiofs", Tag: "home", Source: "/home", MountPoint: "/home"},
				{Proto: "virtiofs", Tag: "data", Source: "data", MountPoint: "/data"},
			}
		}},
		// StratoVirt caps queue pairs at 16, and so do the macvtap fds.
		hvtest.Case{Name: "many-vcpus", Spec: func(s *spec.Spec) {
			s.Vcpu = 20
			s.Interfaces = []spec.Interface{
				{Type: "tap", ID: "vm-tap0", MAC: "02:00:00:00:00:01"},
				{Type: "macvtap", ID: "vm-mv0", MAC: "02:00:00:00:00:02", Macvtap: spec.Macvtap{Link: "eth0", Mode: "bridge"}},
			}
		}},
		hvtest.Case{Name: "macvtap-one-vcpu", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{
				{Type: "macvtap", ID: "vm-mv0", MAC: "02:00:00:00:00:02", Macvtap: spec.Macvtap{Link: "eth0", Mode: "bridge"}},
			}
		}},
		hvtest.Case{Name: "aarch64-options", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", KVM: true, Binary: "/opt/stratovirt/bin/stratovirt", Version: "2.4.0"}),
			Spec: func(s *spec.Spec) {
				s.Initrd = ""
				s.KernelParams = nil
				s.Socket = new(string)
				s.Stratovirt.ExtraArgs = []string{"-D", "stratovirt.log"}
			}},
		hvtest.Case{Name: "pci-aarch64", Facts: &aarch64, Spec: func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "pci", Path: "0000:01:00.0"}}
		}},
		hvtest.Case{Name: "user-interface", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"}}
		}},
		hvtest.Case{Name: "usb", Spec: func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "usb", Path: "vendorid=0x1234,productid=0x5678"}}
		}},
		hvtest.Case{Name: "separators", Spec: func(s *spec.Spec) {
			s.Socket = new("a,b.sock")
			s.Volumes = []spec.Volume{{Image: "a=b.img", Size: 16}}
		}},
		// 2.5.0, or no binary found (the newest checked is assumed): no
		// rng, and vsock is refused.
		hvtest.Case{Name: "minimal-v2-5", Facts: &hvtest.X86},
		hvtest.Case{Name: "vsock-v2-5", Facts: hvtest.Facts(release("2.5.0")), Spec: func(s *spec.Spec) { s.Vsock.CID = 5 }},
		hvtest.Case{Name: "vsock-unknown-release", Facts: &hvtest.X86, Spec: func(s *spec.Spec) { s.Vsock.CID = 5 }},
		hvtest.Case{Name: "too-old", Facts: hvtest.Facts(release("2.3.0"))},
		// The microvm machine's limits.
		hvtest.Case{Name: "limits", Spec: func(s *spec.Spec) {
			s.Mem = 96
			for _, img := range []string{"a.img", "b.img", "c.img", "d.img", "e.img"} {
				s.Volumes = append(s.Volumes, spec.Volume{Image: img, Size: 16})
			}
			for i := range 3 {
				id := fmt.Sprintf("vm-tap%d", i)
				s.Interfaces = append(s.Interfaces, spec.Interface{Type: "tap", ID: id, MAC: fmt.Sprintf("02:00:00:00:00:%02x", i+1)})
			}
		}},
		hvtest.Case{Name: "mem-too-large", Spec: func(s *spec.Spec) { s.Mem = 512<<10 + 1 }},
		hvtest.Case{Name: "at-limits", Spec: func(s *spec.Spec) {
			s.Mem = 512 << 10
			for _, img := range []string{"a.img", "b.img", "c.img", "d.img"} {
				s.Volumes = append(s.Volumes, spec.Volume{Image: img, Size: 16})
			}
			for i := range 2 {
				id := fmt.Sprintf("vm-tap%d", i)
				s.Interfaces = append(s.Interfaces, spec.Interface{Type: "tap", ID: id, MAC: fmt.Sprintf("02:00:00:00:00:%02x", i+1)})
			}
		}},
		// Without io_uring the drives use StratoVirt's default aio.
		hvtest.Case{Name: "no-io-uring", Facts: hvtest.Facts(hypervisor.Facts{Arch: "x86_64", Version: "2.4.0"}), Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "data.img", Size: 16, Direct: true}, {Image: "b.img", Size: 16}}
		}},
		hvtest.Case{Name: "balloon-no-socket", Facts: &v24, Spec: func(s *spec.Spec) {
			s.Socket = new(string)
			s.Balloon = true
			s.DeflateOnOOM = new(bool)
		}},
	)
	// Cases without facts run on 2.4.0, where rng and vsock exist.
	for i := range cases {
		if cases[i].Facts == nil {
			cases[i].Facts = &v24
		}
	}
	hvtest.Run(t, stratovirt.Generator{}, cases)
}

// TestCaps pins StratoVirt's column of reference §4.1, with the
// corrections documented on Caps, and checks that Command agrees with Caps.
func TestCaps(t *testing.T) {
	want := hypervisor.Caps{
		ControlSocket:  true, // -qmp unix:S,server,nowait
		MultiQueueTaps: true, // vcpu > 1
		MacvtapAsFds:   true,
		// §4.1 also lists user and bridge: StratoVirt has only tap netdevs.
		InterfaceTypes: []string{"tap", "macvtap"},
		ShareProtos:    []string{"virtiofs"},
		// §4.1 lists usb-host (it needs a PCI xHCI controller), ignores
		// vsock (vhost-vsock-device works before 2.5.0) and throws for
		// balloon (virtio-balloon-device works).
		Vsock:     true,
		Balloon:   true,
		Oldest:    hypervisor.V(2, 4),
		Newest:    hypervisor.V(2, 5),
		CloudInit: true, // a read-only raw disk
	}
	if diff := cmp.Diff(want, stratovirt.Generator{}.Caps()); diff != "" {
		t.Errorf("Caps differ from reference §4.1 (-want +got):\n%s", diff)
	}
	hvtest.CheckCaps(t, stratovirt.Generator{}, v24)
	hvtest.CheckCaps(t, stratovirt.Generator{}, aarch64)
}
