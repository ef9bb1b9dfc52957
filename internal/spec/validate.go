package spec

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"

	"github.com/microvm-host/microvm/internal/runner"
)

const (
	// MinMem is the least guest memory in MiB. microvm.nix only warns
	// below it; such guests do not get far enough to be useful, so we
	// refuse instead of producing a runner that cannot boot.
	MinMem = 32
	// MaxMem is the most guest memory in MiB, mem and hotplugMem together:
	// 4 PiB, that is 2^52 bytes, the most physical memory x86-64 can
	// address (MAXPHYADDR is at most 52 bits, Intel SDM vol. 3A §4.1.4;
	// arm64 with FEAT_LPA has the same 52 bits). A guest cannot use more,
	// and in bytes it stays far below 2^63, so no conversion downstream
	// overflows: qemu and cloud-hypervisor read "NM" into a 64-bit byte
	// count, firecracker shifts mem_size_mib by 20. Whether the host can
	// back that much shows when the hypervisor starts.
	MaxMem = 1 << 32
	// MaxVcpu is the most vcpus any KVM host runs in one guest: x86's
	// KVM_MAX_VCPUS is CONFIG_KVM_MAX_NR_VCPUS, "range 1024 4096"
	// (linux arch/x86/kvm/Kconfig); arm64 allows fewer (512, the GICv3
	// limit), which KVM_CREATE_VCPU reports at start.
	MaxVcpu = 4096
	// MaxVolumes is how many volumes get a drive id: the generators name
	// them vda, vdb, … vdz in spec order (there is no store disk taking
	// vda as in microvm.nix). microvm.nix silently dropped the rest; we
	// refuse them.
	MaxVolumes = 26
	maxCID     = 1<<32 - 2 // 2^32-1 is VMADDR_CID_ANY
)

// Validate reports every problem of s that does not depend on the
// hypervisor, joined; each is an *Error naming the option path. Call it
// after ApplyDefaults. What one hypervisor cannot do is checked by
// hypervisor.Check.
func (s *Spec) Validate() error {
	var errs errorList
	s.validateMachine(&errs)
	s.validateInterfaces(&errs)
	s.validateShares(&errs)
	s.validateVolumes(&errs)
	s.validateDevices(&errs)
	s.validateForwardPorts(&errs)
	s.validateCloudInit(&errs)
	s.validateImage(&errs)
	return errs.join()
}

func (s *Spec) validateMachine(errs *errorList) {
	errs.check("hypervisor", runner.CheckHypervisor(s.Hypervisor))
	switch {
	case s.Vcpu < 1:
		errs.add("vcpu", "%d is less than 1; expected at least one vcpu", s.Vcpu)
	case s.Vcpu > MaxVcpu:
		errs.add("vcpu", "%d is more than KVM runs in one guest; expected at most %d", s.Vcpu, MaxVcpu)
	}
	switch {
	case s.Mem < MinMem:
		errs.add("mem", "%d MiB is too little; expected at least %d MiB", s.Mem, MinMem)
	case s.Mem > MaxMem:
		errs.add("mem", "%d MiB is more than a guest can address; expected at most %d MiB (4 PiB)", s.Mem, MaxMem)
	}
	if s.Kernel == "" && s.Image == "" {
		errs.add("kernel", "required; expected the path of the guest kernel image, or an image to boot with the host's kernel")
	}
	errs.noLineBreak("kernel", s.Kernel)
	errs.noLineBreak("initrd", s.Initrd)
	for i, p := range s.KernelParams {
		path := fmt.Sprintf("kernelParams[%d]", i)
		if p == "" {
			errs.add(path, "empty; expected a kernel parameter such as console=ttyS0")
		}
		errs.noLineBreak(path, p)
	}
	errs.noLineBreak("socket", s.ControlSocket())
	errs.socketLength("socket", s.ControlSocket(), s.Name)
	errs.noLineBreak("user", s.User)
	switch {
	case s.HotplugMem < 0:
		errs.add("hotplugMem", "%d MiB is negative; expected 0 (none) or more", s.HotplugMem)
	case s.Mem <= MaxMem && s.HotplugMem > MaxMem-s.Mem:
		errs.add("hotplugMem", "%d MiB and mem (%d MiB) are more than a guest can address; expected at most %d MiB together", s.HotplugMem, s.Mem, MaxMem)
	}
	if h := s.HotpluggedMem; h != nil && (*h < 0 || *h > max(s.HotplugMem, 0)) {
		errs.add("hotpluggedMem", "%d MiB is outside 0 to hotplugMem (%d MiB)", *h, s.HotplugMem)
	}
	if strings.ContainsRune(s.PreStart, 0) {
		errs.add("preStart", "contains a NUL byte; expected shell script text")
	}
	if cid := s.Vsock.CID; cid != 0 && (cid < 3 || cid > maxCID) {
		errs.add("vsock.cid", "%d is not a guest CID; expected 0 (no vsock device) or 3 to %d, since 1 and 2 are reserved", cid, maxCID)
	}
}

func (s *Spec) validateInterfaces(errs *errorList) {
	ids := map[string]int{}
	macs := map[string]int{}
	for i, ifc := range s.Interfaces {
		p := fmt.Sprintf("interfaces[%d]", i)
		errs.oneOf(p+".type", ifc.Type, "tap", "macvtap", "user", "bridge")
		if err := runner.CheckInterfaceName(ifc.ID); err != nil {
			errs.check(p+".id", err)
		} else if j, dup := ids[ifc.ID]; dup {
			errs.add(p+".id", "%q is also the id of interfaces[%d]; expected unique ids", ifc.ID, j)
		} else {
			ids[ifc.ID] = i
		}
		mac := strings.ToLower(ifc.MAC)
		if ifc.MAC == "" {
			errs.add(p+".mac", "required; expected six hex octets like 02:00:00:00:00:01")
		} else if err := runner.CheckMAC(ifc.MAC); err != nil {
			errs.check(p+".mac", err)
		} else if j, dup := macs[mac]; dup {
			errs.add(p+".mac", "%q is also the mac of interfaces[%d]; expected unique addresses", ifc.MAC, j)
		} else {
			macs[mac] = i
		}
		switch {
		case ifc.Type == "bridge" && ifc.Bridge == "":
			errs.add(p+".bridge", `required with type "bridge"; expected the host bridge to add the tap to`)
		case ifc.Type == "bridge":
			errs.check(p+".bridge", runner.CheckInterfaceName(ifc.Bridge))
		case ifc.Bridge != "":
			errs.add(p+".bridge", `only allowed with type "bridge", not %q`, ifc.Type)
		}
		m := ifc.Macvtap
		switch {
		case ifc.Type == "macvtap" && m.Link == "":
			errs.add(p+".macvtap.link", `required with type "macvtap"; expected the host interface to put the macvtap on`)
		case ifc.Type == "macvtap":
			errs.check(p+".macvtap.link", runner.CheckInterfaceName(m.Link))
		case m.Link != "" || m.Mode != "":
			errs.add(p+".macvtap", `only allowed with type "macvtap", not %q`, ifc.Type)
		}
		if ifc.Type == "macvtap" {
			errs.oneOf(p+".macvtap.mode", m.Mode, "private", "vepa", "bridge", "passthru", "source")
		}
		switch {
		case ifc.Network != "" && ifc.Type != "tap":
			errs.add(p+".network", `only allowed with type "tap", not %q; a managed network attaches taps to its bridge`, ifc.Type)
		case ifc.Network != "":
			errs.check(p+".network", runner.CheckNetworkName(ifc.Network))
		}
	}
}

func (s *Spec) validateDevices(errs *errorList) {
	pci := map[string]int{}
	for i, d := range s.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		switch d.Bus {
		case "pci":
			addr := strings.ToLower(d.Path)
			if err := runner.CheckPCIAddress(d.Path); err != nil {
				errs.check(p+".path", err)
			} else if j, dup := pci[addr]; dup {
				errs.add(p+".path", "%q is also the path of devices[%d]; a device can be passed through once", d.Path, j)
			} else {
				pci[addr] = i
			}
		case "usb":
			if d.Path == "" {
				errs.add(p+".path", "required; expected a qemu usb-host selector like vendorid=0x0bda,productid=0x2838")
			} else if strings.ContainsFunc(d.Path, isSpaceOrControl) {
				errs.add(p+".path", "%q contains whitespace; expected a qemu usb-host selector like vendorid=0x0bda,productid=0x2838", d.Path)
			}
		default:
			errs.oneOf(p+".bus", d.Bus, "pci", "usb")
		}
	}
}

func (s *Spec) validateForwardPorts(errs *errorList) {
	if len(s.ForwardPorts) > 0 && !slices.ContainsFunc(s.Interfaces, func(i Interface) bool { return i.Type == "user" }) {
		errs.add("forwardPorts", `needs an interface of type "user"; ports are forwarded by qemu's user networking`)
	}
	for i, fp := range s.ForwardPorts {
		p := fmt.Sprintf("forwardPorts[%d]", i)
		errs.oneOf(p+".from", fp.From, "host", "guest")
		errs.oneOf(p+".proto", fp.Proto, "tcp", "udp")
		for _, e := range []struct {
			side string
			ep   Endpoint
		}{{"host", fp.Host}, {"guest", fp.Guest}} {
			if e.ep.Port < 1 || e.ep.Port > 65535 {
				errs.add(p+"."+e.side+".port", "%d is not a port; expected 1 to 65535", e.ep.Port)
			}
			if _, err := netip.ParseAddr(e.ep.Address); e.ep.Address != "" && err != nil {
				errs.add(p+"."+e.side+".address", "%q is not an IP address; expected one like 10.0.2.15, or none", e.ep.Address)
			}
		}
	}
}

// oneOf records a problem unless v is one of allowed.
func (l *errorList) oneOf(path, v string, allowed ...string) {
	switch {
	case slices.Contains(allowed, v):
	case v == "":
		l.add(path, "required; expected one of %s", strings.Join(allowed, ", "))
	default:
		l.add(path, "unknown value %q; expected one of %s", v, strings.Join(allowed, ", "))
	}
}

// noLineBreak records a problem if v spans lines or holds a NUL: such a
// value cannot be one argument or one line of the runner's files.
func (l *errorList) noLineBreak(path, v string) {
	if strings.ContainsAny(v, "\n\r\x00") {
		l.add(path, "%q contains a line break or NUL; expected a single line", v)
	}
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }
