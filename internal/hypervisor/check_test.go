package hypervisor

import (
	"errors"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/spec"
)

// Caps from microvm.nix's support matrix (reference §4.1); the
// generators own the real values, these pin what Check does with them.
var (
	qemuCaps = Caps{
		ControlSocket: true, InterfaceTypes: []string{"user", "tap", "macvtap", "bridge"},
		ShareProtos: []string{"9p", "virtiofs"}, PCI: true, USB: true, Vsock: true,
		Balloon: true, User: true, ForwardPorts: true,
	}
	firecrackerCaps = Caps{ControlSocket: true, SocketRequired: true, InterfaceTypes: []string{"tap"}}
	chCaps          = Caps{
		ControlSocket: true, InterfaceTypes: []string{"tap", "macvtap"}, ShareProtos: []string{"virtiofs"},
		PCI: true, Balloon: true, HotplugMem: true,
	}
)

// everything returns a valid spec using every feature Check looks at.
func everything() *spec.Spec {
	s := &spec.Spec{
		Name:       "vm",
		Kernel:     "k",
		Balloon:    true,
		HotplugMem: 512,
		User:       "microvm",
		Interfaces: []spec.Interface{
			{Type: "tap", ID: "vm-tap", MAC: "02:00:00:00:00:01"},
			{Type: "user", ID: "user", MAC: "02:00:00:00:00:02"},
		},
		Shares:       []spec.Share{{Proto: "9p", Tag: "home", Source: "/home"}},
		Devices:      []spec.Device{{Bus: "pci", Path: "0000:01:00.0"}, {Bus: "usb", Path: "hostbus=1"}},
		Vsock:        spec.Vsock{CID: 3},
		ForwardPorts: []spec.ForwardPort{{Host: spec.Endpoint{Port: 2222}, Guest: spec.Endpoint{Port: 22}}},
	}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return s
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		hv   string
		caps Caps
		edit func(s *spec.Spec)
		want []string // each error in order; nil: supported
	}{
		{"qemu minus hotplug", "qemu", qemuCaps, func(s *spec.Spec) { s.HotplugMem = 0; s.HotpluggedMem = nil }, nil},
		{"qemu hotplug", "qemu", qemuCaps, func(s *spec.Spec) {}, []string{"hotplugMem: qemu cannot hotplug memory"}},
		{"firecracker everything", "firecracker", firecrackerCaps, func(s *spec.Spec) {}, []string{
			`interfaces[1].type: firecracker cannot use "user" interfaces (supports: tap)`,
			"shares[0].proto: firecracker cannot share directories (supports: none)",
			"devices[0].bus: firecracker cannot pass through pci devices",
			"devices[1].bus: firecracker cannot pass through usb devices",
			"vsock.cid: firecracker cannot give the guest a vsock device; leave vsock.cid out",
			"balloon: firecracker has no memory balloon",
			"hotplugMem: firecracker cannot hotplug memory",
			"user: firecracker cannot switch to another user itself; run the VM as that user instead",
			"forwardPorts: firecracker cannot forward ports",
		}},
		{"firecracker without socket", "firecracker", firecrackerCaps, func(s *spec.Spec) { *s = spec.Spec{Name: "vm", Kernel: "k", Socket: new("")}; s.ApplyDefaults() }, []string{
			"socket: firecracker needs a control socket; set socket to a path or leave it out",
		}},
		{"firecracker minimal", "firecracker", firecrackerCaps, func(s *spec.Spec) { *s = spec.Spec{Name: "vm", Kernel: "k"}; s.ApplyDefaults() }, nil},
		{"qemu without socket", "qemu", qemuCaps, func(s *spec.Spec) { s.HotplugMem = 0; s.HotpluggedMem = nil; s.Socket = new("") }, nil},
		{"cloud-hypervisor 9p", "cloud-hypervisor", chCaps, func(s *spec.Spec) {
			s.Interfaces = s.Interfaces[:1]
			s.Devices = s.Devices[:1]
			s.Vsock.CID = 0
			s.User = ""
			s.ForwardPorts = nil
		}, []string{`shares[0].proto: cloud-hypervisor cannot share directories over "9p" (supports: virtiofs)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := everything()
			tt.edit(s)
			err := Check(s, tt.hv, tt.caps)
			var got []error
			if err != nil {
				got = err.(interface{ Unwrap() []error }).Unwrap()
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, e := range got {
				if e.Error() != tt.want[i] {
					t.Errorf("error %d = %q\nwant          %q", i, e, tt.want[i])
				}
				var se *spec.Error
				if !errors.Is(e, ErrUnsupported) || !errors.As(e, &se) || !strings.HasPrefix(tt.want[i], se.Path+": ") {
					t.Errorf("error %d: want a *spec.Error with the option path wrapping ErrUnsupported, got %#v", i, e)
				}
			}
		})
	}
}
