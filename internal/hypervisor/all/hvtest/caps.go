package hvtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

// CheckCaps checks that g's Caps tell the truth about its Command on a
// host with f: each feature alone, added to a minimal spec, must be
// accepted iff Caps claims it (and refused with ErrUnsupported otherwise),
// and the Command fields that Caps predicts must agree.
func CheckCaps(t *testing.T, g hypervisor.Generator, f hypervisor.Facts) {
	t.Helper()
	c := g.Caps()
	has := func(list []string, v string) bool { return slices.Contains(list, v) }
	tap := spec.Interface{Type: "tap", ID: "vm-tap", MAC: "02:00:00:00:00:01"}
	macvtap := spec.Interface{Type: "macvtap", ID: "vm-mv", MAC: "02:00:00:00:00:02",
		Macvtap: spec.Macvtap{Link: "eth0", Mode: "bridge"}}
	user := spec.Interface{Type: "user", ID: "vm-user", MAC: "02:00:00:00:00:03"}
	features := []struct {
		name   string
		want   bool
		change func(*spec.Spec)
	}{
		{"tap interface", has(c.InterfaceTypes, "tap"), func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{tap}
		}},
		{"macvtap interface", has(c.InterfaceTypes, "macvtap"), func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{macvtap}
		}},
		{"user interface", has(c.InterfaceTypes, "user"), func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{user}
		}},
		{"bridge interface", has(c.InterfaceTypes, "bridge"), func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "bridge", ID: "vm-br", MAC: "02:00:00:00:00:04", Bridge: "br0"}}
		}},
		{"virtiofs share", has(c.ShareProtos, "virtiofs"), func(s *spec.Spec) {
			s.Shares = []spec.Share{{Proto: "virtiofs", Tag: "home", Source: "/srv/home", MountPoint: "/home"}}
		}},
		{"9p share", has(c.ShareProtos, "9p"), func(s *spec.Spec) {
			s.Shares = []spec.Share{{Proto: "9p", Tag: "data", Source: "/srv/data", MountPoint: "/data"}}
		}},
		{"pci device", c.PCI, func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "pci", Path: "0000:01:00.0"}}
		}},
		{"usb device", c.USB, func(s *spec.Spec) {
			s.Devices = []spec.Device{{Bus: "usb", Path: "vendorid=0x0bda,productid=0x2838"}}
		}},
		{"vsock", c.Vsock, func(s *spec.Spec) { s.Vsock.CID = 3 }},
		{"balloon", c.Balloon, func(s *spec.Spec) { s.Balloon = true }},
		{"hotplugMem", c.HotplugMem, func(s *spec.Spec) { s.HotplugMem = 1024 }},
		{"user", c.User, func(s *spec.Spec) { s.User = "microvm" }},
		{"forwardPorts", c.ForwardPorts && has(c.InterfaceTypes, "user"), func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{user}
			s.ForwardPorts = []spec.ForwardPort{{Host: spec.Endpoint{Port: 2222}, Guest: spec.Endpoint{Port: 22}}}
		}},
		{"no control socket", !c.SocketRequired, func(s *spec.Spec) { s.Socket = new(string) }},
		{"cloudInit", c.CloudInit, func(s *spec.Spec) { s.CloudInit = &spec.CloudInit{} }},
		{"hostModules", c.CloudInit, func(s *spec.Spec) { s.HostModules = true }},
		{"qcow2 volume", c.Qcow2, func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "disk.qcow2", Format: spec.FormatQcow2, AutoCreate: new(bool)}}
		}},
		{"qcow2 overlay of a base", c.Qcow2 && c.BackingFiles, func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "root.qcow2", Base: "/images/debian.qcow2"}}
		}},
		// Every hypervisor reads raw images: a raw copy of a base works
		// everywhere.
		{"raw copy of a base", true, func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "root.img", Base: "/images/debian.qcow2", Convert: true}}
		}},
	}
	for _, ft := range features {
		_, err := command(t, g, f, ft.change)
		switch {
		case ft.want && err != nil:
			t.Errorf("%s: Caps claim it, Command refuses: %v", ft.name, err)
		case !ft.want && err == nil:
			t.Errorf("%s: Caps deny it, Command accepts it", ft.name)
		case !ft.want && !errors.Is(err, hypervisor.ErrUnsupported):
			t.Errorf("%s: refusal does not wrap ErrUnsupported: %v", ft.name, err)
		}
	}

	if c.CloudInit {
		cmd, err := command(t, g, f, func(s *spec.Spec) { s.CloudInit = &spec.CloudInit{} })
		if err == nil && !names(cmd, state.SeedFile) {
			t.Errorf("Caps.CloudInit, but the command line attaches no %s", state.SeedFile)
		}
	}
	if c.CloudInit {
		cmd, err := command(t, g, f, func(s *spec.Spec) { s.HostModules = true })
		if err == nil && !names(cmd, state.ModulesFile) {
			t.Errorf("hostModules accepted, but the command line attaches no %s", state.ModulesFile)
		}
	}
	if c.BackingFiles && !c.Qcow2 {
		t.Errorf("BackingFiles without Qcow2")
	}
	if c.GracefulShutdown && !c.ControlSocket {
		t.Errorf("GracefulShutdown without ControlSocket")
	}
	if cmd, err := command(t, g, f, func(*spec.Spec) {}); err != nil {
		t.Errorf("minimal spec refused: %v", err)
	} else {
		if (cmd.Shutdown != "") != c.GracefulShutdown {
			t.Errorf("Shutdown = %q with the default socket, Caps.GracefulShutdown = %t", cmd.Shutdown, c.GracefulShutdown)
		}
		if cmd.SupportsNotifySocket != c.NotifySocket {
			t.Errorf("SupportsNotifySocket = %t, Caps.NotifySocket = %t", cmd.SupportsNotifySocket, c.NotifySocket)
		}
	}
	if has(c.InterfaceTypes, "tap") {
		cmd, err := command(t, g, f, func(s *spec.Spec) {
			s.Vcpu = 2
			s.Interfaces = []spec.Interface{tap}
		})
		if err == nil && cmd.TapMultiQueue != c.MultiQueueTaps {
			t.Errorf("TapMultiQueue = %t with 2 vcpus, Caps.MultiQueueTaps = %t", cmd.TapMultiQueue, c.MultiQueueTaps)
		}
	}
	if has(c.InterfaceTypes, "macvtap") {
		cmd, err := command(t, g, f, func(s *spec.Spec) { s.Interfaces = []spec.Interface{macvtap} })
		if err == nil && (len(cmd.MacvtapFDs) > 0) != c.MacvtapAsFds {
			t.Errorf("MacvtapFDs = %v, Caps.MacvtapAsFds = %t", cmd.MacvtapFDs, c.MacvtapAsFds)
		}
	}
}

// names reports whether cmd's arguments or files mention name.
func names(cmd *hypervisor.Command, name string) bool {
	for _, a := range cmd.Argv {
		if strings.Contains(a, name) {
			return true
		}
	}
	for _, f := range cmd.Files {
		if strings.Contains(string(f.Content), name) {
			return true
		}
	}
	return false
}

// command runs g on a minimal spec changed by change; the result must be
// a valid spec.
func command(t *testing.T, g hypervisor.Generator, f hypervisor.Facts, change func(*spec.Spec)) (*hypervisor.Command, error) {
	t.Helper()
	s := spec.Spec{Name: "vm", Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.img"}
	change(&s)
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatalf("test spec is invalid: %v", err)
	}
	return g.Command(&s, f)
}
