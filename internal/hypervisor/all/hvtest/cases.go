package hvtest

import (
	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// Base is the spec every case starts from, before defaults.
func Base() *spec.Spec {
	return &spec.Spec{
		Name:         "vm",
		Kernel:       "/boot/vmlinuz",
		Initrd:       "/boot/initrd.img",
		KernelParams: []string{"init=/init", "quiet"},
	}
}

// Standard are the cases every generator is tested with; a generator that
// lacks a feature has a golden .err for its case.
func Standard() []Case {
	return []Case{
		{Name: "minimal"},
		{Name: "tap", Spec: func(s *spec.Spec) {
			s.Vcpu = 4
			s.Interfaces = []spec.Interface{{Type: "tap", ID: "vm-tap0", MAC: "02:00:00:00:00:01"}}
		}},
		{Name: "shares", Spec: func(s *spec.Spec) {
			s.Shares = []spec.Share{
				{Proto: "virtiofs", Tag: "home", Source: "/home", MountPoint: "/home"},
				{Proto: "9p", Tag: "data", Source: "data", MountPoint: "/data", SecurityModel: "mapped"},
			}
		}},
		{Name: "volumes", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{
				{Image: "root.img", Size: 1024, ReadOnly: true, Serial: "root", MountPoint: "/"},
				{Image: "/var/lib/scratch.img", Size: 2048, Direct: true, MountPoint: "/scratch"},
			}
		}},
		{Name: "macvtap", Spec: func(s *spec.Spec) {
			s.Vcpu = 2
			s.Interfaces = []spec.Interface{
				{Type: "macvtap", ID: "vm-mv0", MAC: "02:00:00:00:00:02", Macvtap: spec.Macvtap{Link: "eth0", Mode: "bridge"}},
				{Type: "macvtap", ID: "vm-mv1", MAC: "02:00:00:00:00:03", Macvtap: spec.Macvtap{Link: "eth1", Mode: "private"}},
			}
		}},
		{Name: "pci", Spec: func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "pci", Path: "0000:01:00.0"}, {Bus: "pci", Path: "0000:02:00.1"}}
		}},
		{Name: "vsock", Spec: func(s *spec.Spec) { s.Vsock.CID = 5 }},
		{Name: "balloon", Spec: func(s *spec.Spec) { s.Balloon = true }},
		// The seed follows the volumes, read-only (vdb here).
		{Name: "cloud-init", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "root.img", Size: 1024, MountPoint: "/"}}
			s.CloudInit = &spec.CloudInit{UserData: "#cloud-config\n"}
		}},
		// An image VM: microvm's initramfs in the VM directory, the
		// image's read-only root disk first (vda), then the volumes.
		{Name: "image", Spec: func(s *spec.Spec) {
			s.Image = "docker-archive:/srv/app.tar"
			s.Initrd = ""
			s.Volumes = []spec.Volume{{Image: "data.img", Size: 64, MountPoint: "/data"}}
		}},
		// The root disk need not be the first: root= names it (vdb);
		// the seed and the host's modules follow the volumes.
		{Name: "root-disk", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{
				{Image: "data.img", Size: 64},
				{Image: "root.img", Root: true, AutoCreate: new(bool)},
			}
			s.CloudInit = &spec.CloudInit{UserData: "#cloud-config\n"}
			s.HostModules = true
		}},
		// A qcow2 overlay of a shared base: raw-only hypervisors refuse.
		{Name: "base-overlay", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "root.qcow2", Base: "/var/lib/images/debian-12.qcow2", Root: true}}
		}},
		// A raw copy of the base works everywhere.
		{Name: "base-convert", Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "root.img", Base: "/var/lib/images/debian-12.qcow2", Convert: true, Root: true}}
		}},
	}
}

// Facts returns a pointer to f, for Case.Facts.
func Facts(f hypervisor.Facts) *hypervisor.Facts { return &f }
