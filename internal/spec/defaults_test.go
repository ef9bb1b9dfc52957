package spec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDefaultsMatchMicrovmNix pins the defaults of microvm.nix's
// options.nix (reference §4.9); runners built from a translated NixOS
// config must behave the same.
func TestDefaultsMatchMicrovmNix(t *testing.T) {
	s := &Spec{
		Name:         "vm",
		Kernel:       "k",
		Shares:       []Share{{Tag: "nine"}, {Tag: "fs", Proto: "virtiofs"}},
		Volumes:      []Volume{{Image: "a.img", Size: 8}},
		ForwardPorts: []ForwardPort{{}},
	}
	s.ApplyDefaults()
	want := &Spec{
		Name:            "vm",
		Hypervisor:      "qemu",
		Vcpu:            1,
		Mem:             512,
		Kernel:          "k",
		Socket:          ptr("vm.sock"),
		DeflateOnOOM:    ptr(true),
		HotpluggedMem:   ptr(0),
		PrettyProcnames: ptr(true),
		Shares: []Share{
			{Tag: "nine", Proto: "9p", SecurityModel: "none"},
			{Tag: "fs", Proto: "virtiofs", Socket: "vm-virtiofs-fs.sock"},
		},
		// format is ours: microvm.nix passes every image as raw.
		Volumes:      []Volume{{Image: "a.img", Size: 8, FsType: "ext4", AutoCreate: ptr(true), Format: "raw"}},
		ForwardPorts: []ForwardPort{{From: "host", Proto: "tcp"}},
		Qemu:         QemuOptions{Machine: "microvm", SerialConsole: ptr(true)},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("defaults (-microvm.nix +ours):\n%s", diff)
	}

	again := *s
	again.ApplyDefaults()
	if diff := cmp.Diff(s, &again); diff != "" {
		t.Errorf("ApplyDefaults is not idempotent (-once +twice):\n%s", diff)
	}
}

// TestDefaultsKeepExplicitValues checks that set options, including an
// explicitly disabled control socket, survive ApplyDefaults.
func TestDefaultsKeepExplicitValues(t *testing.T) {
	s := &Spec{Name: "vm", Socket: ptr(""), HotplugMem: 512, Shares: []Share{{Tag: "t", Proto: "virtiofs", Socket: "own.sock"}}}
	s.ApplyDefaults()
	if s.ControlSocket() != "" || *s.HotpluggedMem != 512 || s.Shares[0].Socket != "own.sock" {
		t.Errorf("socket %q, hotpluggedMem %d, share socket %q; want \"\", 512, own.sock",
			s.ControlSocket(), *s.HotpluggedMem, s.Shares[0].Socket)
	}
}
