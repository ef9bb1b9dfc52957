package cloudhypervisor_test

import (
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/hypervisor/cloudhypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = cloudhypervisor.Generator{}

func TestGolden(t *testing.T) {
	hvtest.Run(t, cloudhypervisor.Generator{}, append(hvtest.Standard(),
		hvtest.Case{Name: "virtiofs", Spec: func(s *spec.Spec) {
			s.Vcpu = 2
			s.Shares = []spec.Share{
				{Proto: "virtiofs", Tag: "home", Source: "/home", MountPoint: "/home"},
				{Proto: "virtiofs", Tag: "data", Source: "data", MountPoint: "/data", Socket: "data.sock"},
			}
		}},
		hvtest.Case{Name: "hotplug", Spec: func(s *spec.Spec) {
			s.HotplugMem = 2048
			s.HotpluggedMem = new(int)
			*s.HotpluggedMem = 512
		}},
		hvtest.Case{Name: "aarch64", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", Binary: "/opt/ch/bin/cloud-hypervisor"}),
			Spec: func(s *spec.Spec) {
				s.Initrd = ""
				s.Balloon = true
				s.DeflateOnOOM = new(bool)
				s.CloudHypervisor.ExtraArgs = []string{"--rng", "src=/dev/urandom"}
			}},
		hvtest.Case{Name: "no-socket", Spec: func(s *spec.Spec) {
			s.Socket = new(string)
			s.Balloon = true
		}},
		hvtest.Case{Name: "user", Spec: func(s *spec.Spec) { s.User = "microvm" }},
		hvtest.Case{Name: "usb", Spec: func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "usb", Path: "hostbus=1,hostaddr=2"}}
		}},
		hvtest.Case{Name: "user-interface", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"}}
		}},
		// Releases before 50.1 refuse image_type; the runner then only
		// works before 50.1, where writes to sector 0 are still allowed.
		hvtest.Case{Name: "volumes-v50-0", Facts: release("50.0"), Spec: volumes},
		hvtest.Case{Name: "volumes-v50-1", Facts: release("v50.1.0"), Spec: volumes},
		// Before 50.1 qcow2 is detected (no image_type) and cannot be
		// told to open backing files: overlays are refused.
		hvtest.Case{Name: "qcow2-v50-0", Facts: release("50.0"), Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "disk.qcow2", Format: spec.FormatQcow2, AutoCreate: new(bool)}}
		}},
		hvtest.Case{Name: "base-overlay-v50-0", Facts: release("50.0"), Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "root.qcow2", Base: "/var/lib/images/debian-12.qcow2"}}
		}},
		// Read-only volumes never write sector 0: no upper bound.
		hvtest.Case{Name: "readonly-volume-v49", Facts: release("49.0"), Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "root.img", Size: 1024, ReadOnly: true}}
		}},
		hvtest.Case{Name: "too-old", Facts: release("35.1")},
	))
}

func release(v string) *hypervisor.Facts {
	f := hvtest.X86
	f.Binary, f.Version = "/usr/bin/cloud-hypervisor", v
	return &f
}

func volumes(s *spec.Spec) {
	s.Volumes = []spec.Volume{
		{Image: "root.img", Size: 1024, ReadOnly: true},
		{Image: "data.img", Size: 2048},
	}
}

func TestCaps(t *testing.T) {
	hvtest.CheckCaps(t, cloudhypervisor.Generator{}, hvtest.X86)
}
