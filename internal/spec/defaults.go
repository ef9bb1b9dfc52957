package spec

import "github.com/microvm-host/microvm/internal/runner"

// Defaults are microvm.nix's option defaults (nixos-modules/microvm/options.nix).
const (
	DefaultHypervisor = "qemu"
	DefaultVcpu       = 1
	DefaultMem        = 512 // MiB
	DefaultFsType     = "ext4"
	DefaultShareProto = "9p"
	DefaultSecurity   = "none"
	DefaultMachine    = "microvm"
)

// Volume image formats.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
)

// ApplyDefaults fills every option the file left out with microvm.nix's
// default, so generators never see an unset value, and puts values with
// one canonical spelling into it (see normalize). It is idempotent.
func (s *Spec) ApplyDefaults() {
	s.normalize()
	if s.Hypervisor == "" {
		s.Hypervisor = DefaultHypervisor
	}
	if s.Vcpu == 0 {
		s.Vcpu = DefaultVcpu
	}
	if s.Mem == 0 {
		s.Mem = DefaultMem
	}
	if s.Socket == nil {
		sock := s.Name + ".sock"
		s.Socket = &sock
	}
	if s.DeflateOnOOM == nil {
		s.DeflateOnOOM = ptr(true)
	}
	if s.HotpluggedMem == nil {
		s.HotpluggedMem = ptr(s.HotplugMem)
	}
	if s.PrettyProcnames == nil {
		s.PrettyProcnames = ptr(true)
	}
	for i := range s.Shares {
		sh := &s.Shares[i]
		if sh.Proto == "" {
			sh.Proto = DefaultShareProto
		}
		if sh.Proto == "virtiofs" && sh.Socket == "" {
			sh.Socket = s.Name + "-virtiofs-" + sh.Tag + ".sock"
		}
		if sh.Proto == "9p" && sh.SecurityModel == "" {
			sh.SecurityModel = DefaultSecurity
		}
	}
	for i := range s.Volumes {
		v := &s.Volumes[i]
		if v.FsType == "" {
			v.FsType = DefaultFsType
		}
		if v.AutoCreate == nil {
			v.AutoCreate = ptr(true)
		}
		switch {
		case v.Format != "":
		case v.Base != "" && !v.Convert:
			v.Format = FormatQcow2
		default:
			v.Format = FormatRaw
		}
	}
	for i := range s.ForwardPorts {
		fp := &s.ForwardPorts[i]
		if fp.From == "" {
			fp.From = "host"
		}
		if fp.Proto == "" {
			fp.Proto = "tcp"
		}
	}
	if c := s.CloudInit; c != nil && c.Hostname == "" {
		c.Hostname = s.Name
	}
	if s.Qemu.Machine == "" {
		s.Qemu.Machine = DefaultMachine
	}
	if s.Qemu.SerialConsole == nil {
		s.Qemu.SerialConsole = ptr(true)
	}
}

// RootVolume is the index of the volume marked as the root disk; ok is
// false when there is none.
func (s *Spec) RootVolume() (i int, ok bool) {
	for i, v := range s.Volumes {
		if v.IsRoot() {
			return i, true
		}
	}
	return 0, false
}

// ControlSocket is the hypervisor's control socket, "" when disabled.
// Call after ApplyDefaults.
func (s *Spec) ControlSocket() string {
	if s.Socket == nil {
		return ""
	}
	return *s.Socket
}

// normalize lowercases valid PCI addresses: sysfs names devices in
// lowercase, so VFIO finds no 0000:0A:00.0 at run time. Invalid addresses
// stay as written for Validate to quote.
func (s *Spec) normalize() {
	for i := range s.Devices {
		if d := &s.Devices[i]; d.Bus == "pci" {
			d.Path = runner.NormalizePCIAddress(d.Path)
		}
	}
}

func ptr[T any](v T) *T { return &v }
