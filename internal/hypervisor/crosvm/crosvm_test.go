package crosvm_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/hypervisor/crosvm"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = crosvm.Generator{}

func TestGolden(t *testing.T) {
	hvtest.Run(t, crosvm.Generator{}, append(hvtest.Standard(),
		hvtest.Case{Name: "no-socket", Spec: func(s *spec.Spec) {
			s.Socket = new(string)
			s.Balloon = true
		}},
		hvtest.Case{Name: "aarch64-options", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", KVM: true, Binary: "/opt/crosvm/bin/crosvm"}),
			Spec: func(s *spec.Spec) {
				s.Initrd = ""
				s.KernelParams = nil
				s.Crosvm.ExtraArgs = []string{"--disable-sandbox"}
			}},
		hvtest.Case{Name: "riscv", Facts: hvtest.Facts(hypervisor.Facts{Arch: "riscv64"})},
		hvtest.Case{Name: "user-interface", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"}}
		}},
		hvtest.Case{Name: "usb", Spec: func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "usb", Path: "vendorid=0x1234,productid=0x5678"}}
		}},
		hvtest.Case{Name: "separators", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "a,b.img", Size: 16}}
			s.Shares = []spec.Share{{Proto: "9p", Tag: "data", Source: "/srv/a:b", MountPoint: "/data"}}
		}},
		// aarch64 has no power button: no Shutdown, and build says so;
		// the balloon still runs this crosvm, not PATH's.
		hvtest.Case{Name: "aarch64-balloon", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", KVM: true, Binary: "/opt/crosvm/bin/crosvm"}),
			Spec: func(s *spec.Spec) { s.Balloon = true }},
	))
}

// TestCaps pins crosvm's column of reference §4.1 and checks that Command
// agrees with Caps.
func TestCaps(t *testing.T) {
	want := hypervisor.Caps{
		ControlSocket:    true, // -s S
		GracefulShutdown: true, // crosvm powerbtn S
		MacvtapAsFds:     true, // requiresMacvtapAsFds
		InterfaceTypes:   []string{"tap", "macvtap"},
		ShareProtos:      []string{"virtiofs", "9p"},
		PCI:              true,
		Vsock:            true, // --vsock CID
		Balloon:          true,
		CloudInit:        true, // a read-only raw disk
		Qcow2:            true, // detected by its header
		BackingFiles:     true,
	}
	if diff := cmp.Diff(want, crosvm.Generator{}.Caps()); diff != "" {
		t.Errorf("Caps differ from reference §4.1 (-want +got):\n%s", diff)
	}
	hvtest.CheckCaps(t, crosvm.Generator{}, hvtest.X86)
}
