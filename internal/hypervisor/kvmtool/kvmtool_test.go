package kvmtool_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/hypervisor/kvmtool"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = kvmtool.Generator{}

func TestGolden(t *testing.T) {
	hvtest.Run(t, kvmtool.Generator{}, append(hvtest.Standard(),
		// The standard volumes case has a serial, which kvmtool refuses.
		hvtest.Case{Name: "volumes-no-serial", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{
				{Image: "root.img", Size: 1024, ReadOnly: true, MountPoint: "/"},
				{Image: "/var/lib/scratch.img", Size: 2048, Direct: true, MountPoint: "/scratch"},
				{Image: "both.img", Size: 16, Direct: true, ReadOnly: true},
			}
		}},
		hvtest.Case{Name: "five-volumes", Spec: func(s *spec.Spec) {
			for _, img := range []string{"a.img", "b.img", "c.img", "d.img", "e.img"} {
				s.Volumes = append(s.Volumes, spec.Volume{Image: img, Size: 16})
			}
		}},
		// The seed is a fifth disk.
		hvtest.Case{Name: "four-volumes-cloud-init", Spec: func(s *spec.Spec) {
			for _, img := range []string{"a.img", "b.img", "c.img", "d.img"} {
				s.Volumes = append(s.Volumes, spec.Volume{Image: img, Size: 16})
			}
			s.CloudInit = &spec.CloudInit{}
		}},
		hvtest.Case{Name: "shares-9p", Spec: func(s *spec.Spec) {
			s.Shares = []spec.Share{
				{Proto: "9p", Tag: "data", Source: "data", MountPoint: "/data"},
				{Proto: "9p", Tag: "srv", Source: "/srv", MountPoint: "/srv"},
			}
		}},
		hvtest.Case{Name: "user-and-tap", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{
				{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"},
				{Type: "tap", ID: "vm-tap0", MAC: "02:00:00:00:00:01"},
			}
		}},
		hvtest.Case{Name: "two-user-interfaces", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{
				{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"},
				{Type: "user", ID: "vm-user1", MAC: "02:00:00:00:00:04"},
			}
		}},
		hvtest.Case{Name: "bridge", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "bridge", ID: "vm-br0", MAC: "02:00:00:00:00:04", Bridge: "br0"}}
		}},
		hvtest.Case{Name: "aarch64-options", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", KVM: true, Binary: "/opt/kvmtool/bin/lkvm"}),
			Spec: func(s *spec.Spec) {
				s.Initrd = ""
				s.KernelParams = nil
				s.Volumes = []spec.Volume{{Image: "data.img", Size: 16}}
				s.Kvmtool.ExtraArgs = []string{"--loglevel", "debug"}
			}},
		// No initrd and no disk: lkvm would share the host's /.
		hvtest.Case{Name: "no-initrd-no-volume", Spec: func(s *spec.Spec) { s.Initrd = "" }},
		// The root volume is not the first: root= names it, so lkvm
		// does not append root=/dev/vda rw.
		hvtest.Case{Name: "root-volume", Spec: func(s *spec.Spec) {
			s.Initrd = ""
			s.Volumes = []spec.Volume{
				{Image: "data.img", Size: 16, MountPoint: "/data"},
				{Image: "root.img", Size: 1024, ReadOnly: true, MountPoint: "/"},
			}
		}},
		// root= in the spec wins.
		hvtest.Case{Name: "root-param", Spec: func(s *spec.Spec) {
			s.KernelParams = []string{"root=LABEL=nixos"}
			s.Volumes = []spec.Volume{{Image: "root.img", Size: 1024, MountPoint: "/"}}
		}},
		hvtest.Case{Name: "separators", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "a,b.img", Size: 16}}
			s.Shares = []spec.Share{{Proto: "9p", Tag: "data", Source: "/srv/a,b", MountPoint: "/data"}}
			s.Interfaces = []spec.Interface{{Type: "tap", ID: "vm=tap", MAC: "02:00:00:00:00:01"}}
		}},
	))
}

// TestCaps pins kvmtool's column of reference §4.1 and checks that Command
// agrees with Caps.
func TestCaps(t *testing.T) {
	want := hypervisor.Caps{
		// §4.1 says requiresMacvtapAsFds = no: microvm.nix let the shell
		// expand /dev/tap$(< ifindex); we pass an fd instead.
		MacvtapAsFds:   true,
		InterfaceTypes: []string{"user", "tap", "macvtap"},
		ShareProtos:    []string{"9p"},
		PCI:            true,
		Vsock:          true,
		Balloon:        true,
		CloudInit:      true, // a read-only raw disk
	}
	if diff := cmp.Diff(want, kvmtool.Generator{}.Caps()); diff != "" {
		t.Errorf("Caps differ from reference §4.1 (-want +got):\n%s", diff)
	}
	hvtest.CheckCaps(t, kvmtool.Generator{}, hvtest.X86)
}
