package alioth_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/alioth"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = alioth.Generator{}

func TestGolden(t *testing.T) {
	hvtest.Run(t, alioth.Generator{}, append(hvtest.Standard(),
		// The standard volumes case has a serial, which alioth refuses.
		hvtest.Case{Name: "volumes-no-serial", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{
				{Image: "root.img", Size: 1024, ReadOnly: true, MountPoint: "/"},
				{Image: "/var/lib/scratch.img", Size: 2048, Direct: true, MountPoint: "/scratch"},
			}
		}},
		hvtest.Case{Name: "shares-virtiofs", Spec: func(s *spec.Spec) {
			s.Shares = []spec.Share{
				{Proto: "virtiofs", Tag: "home", Source: "/home", MountPoint: "/home"},
				{Proto: "virtiofs", Tag: "data", Source: "data", MountPoint: "/data"},
			}
		}},
		hvtest.Case{Name: "aarch64-options", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", KVM: true, Binary: "/opt/alioth/bin/alioth"}),
			Spec: func(s *spec.Spec) {
				s.Initrd = ""
				s.KernelParams = nil
				s.Vcpu = 2
				s.Interfaces = []spec.Interface{
					{Type: "tap", ID: "vm-tap0", MAC: "02:00:00:00:00:01"},
					{Type: "tap", ID: "vm-tap1", MAC: "02:00:00:00:00:02"},
				}
				s.Alioth.ExtraArgs = []string{"--pvpanic"}
			}},
		hvtest.Case{Name: "separators", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "a,b.img", Size: 16}}
		}},
		hvtest.Case{Name: "too-old", Facts: hvtest.Facts(hypervisor.Facts{Arch: "x86_64", Binary: "/usr/bin/alioth", Version: "0.7.0"})},
	))
}

// TestCaps pins Alioth's column of reference §4.1 and checks that Command
// agrees with Caps.
func TestCaps(t *testing.T) {
	want := hypervisor.Caps{
		// §4.1 lists tap only: --net tap=/dev/tapN takes a macvtap.
		InterfaceTypes: []string{"tap", "macvtap"},
		ShareProtos:    []string{"virtiofs"},
		Vsock:          true, // --vsock vhost,cid=CID
		Balloon:        true, // --balloon (§4.1 throws)
		Oldest:         hypervisor.V(0, 8),
		Newest:         hypervisor.V(0, 12),
		CloudInit:      true, // a read-only raw disk
	}
	if diff := cmp.Diff(want, alioth.Generator{}.Caps()); diff != "" {
		t.Errorf("Caps differ from reference §4.1 (-want +got):\n%s", diff)
	}
	hvtest.CheckCaps(t, alioth.Generator{}, hvtest.X86)
}
