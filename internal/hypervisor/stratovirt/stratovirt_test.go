package stratovirt_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/hypervisor/stratovirt"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = stratovirt.Generator{}

var aarch64 = hypervisor.Facts{Arch: "aarch64", KVM: true}

func TestGolden(t *testing.T) {
	hvtest.Run(t, stratovirt.Generator{}, append(hvtest.Standard(),
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
		hvtest.Case{Name: "aarch64-options", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", KVM: true, Binary: "/opt/stratovirt/bin/stratovirt"}),
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
	))
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
		// §4.1 lists usb-host (it needs a PCI xHCI controller) and
		// ignores vsock (vhost-vsock-device works).
		Vsock: true,
	}
	if diff := cmp.Diff(want, stratovirt.Generator{}.Caps()); diff != "" {
		t.Errorf("Caps differ from reference §4.1 (-want +got):\n%s", diff)
	}
	hvtest.CheckCaps(t, stratovirt.Generator{}, hvtest.X86)
	hvtest.CheckCaps(t, stratovirt.Generator{}, aarch64)
}
