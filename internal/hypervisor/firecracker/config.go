package firecracker

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// The config file's types mirror firecracker's swagger definitions
// (src/firecracker/swagger/firecracker.yaml). Fields are declared in key
// order so the JSON comes out sorted, like Nix's builtins.toJSON.
type (
	vmConfig struct {
		BootSource        bootSource `json:"boot-source"`
		Drives            []drive    `json:"drives"`
		MachineConfig     machine    `json:"machine-config"`
		NetworkInterfaces []netIface `json:"network-interfaces"`
		Vsock             *vsock     `json:"vsock,omitempty"`
	}
	bootSource struct {
		BootArgs        string `json:"boot_args"`
		InitrdPath      string `json:"initrd_path,omitempty"`
		KernelImagePath string `json:"kernel_image_path"`
	}
	drive struct {
		DriveID      string `json:"drive_id"`
		IOEngine     string `json:"io_engine"`
		IsReadOnly   bool   `json:"is_read_only"`
		IsRootDevice bool   `json:"is_root_device"`
		PathOnHost   string `json:"path_on_host"`
	}
	machine struct {
		MemSizeMib int  `json:"mem_size_mib"`
		SMT        bool `json:"smt"`
		VcpuCount  int  `json:"vcpu_count"`
	}
	netIface struct {
		GuestMAC    string `json:"guest_mac,omitempty"`
		HostDevName string `json:"host_dev_name"`
		IfaceID     string `json:"iface_id"`
	}
	vsock struct {
		GuestCID int    `json:"guest_cid"`
		UDSPath  string `json:"uds_path"`
	}
)

// bootArgs precede the spec's kernel parameters, as microvm.nix writes
// them: the serial console, reboot=k because firecracker exits when the
// guest resets through the keyboard controller, and the i8042 options
// firecracker's docs recommend, since its emulated i8042 has only the
// keyboard that SendCtrlAltDel presses (no aux port, mux or PnP).
//
// Fixed: no "noapic acpi=off" any more. Firecracker boots x86 guests
// through ACPI and recommends kernels without MPTable (firecracker
// docs/kernel-policy.md, "Booting with ACPI"); under acpi=off such a
// kernel finds no CPUs but the first and no virtio devices, and with
// noapic virtio-mmio devices above IRQ 15 get no interrupt. microvm.nix
// dropped both (its PR #498, commit 8a470b7). Kernels that still boot
// through MPTable do so without the two options as well.
const bootArgs = "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

// ioEngine is the block engine: Async is io_uring, which firecracker only
// accepts on host kernels 5.10.51 and later (firecracker
// docs/api_requests/block-io-engine.md, "Host requirements"; older ones
// get 400 Bad Request and the VM does not start). Without io_uring
// (old kernel, io_uring disabled by sysctl or a seccomp filter) the Sync
// engine works everywhere.
func ioEngine(f hypervisor.Facts) string {
	if f.IOUring {
		return "Async"
	}
	return "Sync"
}

// config renders the config file: indented, keys sorted, ending in a
// newline.
func config(s *spec.Spec, f hypervisor.Facts) ([]byte, error) {
	c := vmConfig{
		BootSource: bootSource{
			BootArgs:        strings.Join(append([]string{bootArgs}, hypervisor.KernelParams(s)...), " "),
			InitrdPath:      hypervisor.Initrd(s),
			KernelImagePath: s.Kernel,
		},
		Drives: []drive{},
		MachineConfig: machine{
			MemSizeMib: s.Mem,
			// SMT does not exist on aarch64, and with it on the vcpu
			// count must be 1 or even (swagger: MachineConfiguration);
			// microvm.nix enables it on x86 regardless.
			SMT:       f.Arch == "x86_64" && (s.Vcpu == 1 || s.Vcpu%2 == 0),
			VcpuCount: s.Vcpu,
		},
		NetworkInterfaces: []netIface{},
	}
	for i, v := range hypervisor.Disks(s) {
		// The guest sees the drives as vda, vdb, … in this order.
		// microvm.nix uses the image path as drive_id, but API resource
		// ids may only hold alphanumerics and '_'. Serial and direct
		// have no firecracker equivalent and are ignored, as there.
		// is_root_device stays false: firecracker would move that drive
		// to the front, renaming the others; root= comes from
		// hypervisor.RootParams as for every hypervisor.
		c.Drives = append(c.Drives, drive{
			DriveID:    hypervisor.DriveName(i),
			IOEngine:   ioEngine(f),
			IsReadOnly: v.ReadOnly,
			PathOnHost: v.Image,
		})
	}
	for _, i := range s.Interfaces {
		c.NetworkInterfaces = append(c.NetworkInterfaces, netIface{
			GuestMAC:    i.MAC,
			HostDevName: i.ID,
			IfaceID:     i.ID,
		})
	}
	if s.Vsock.CID != 0 {
		// microvm.nix writes "vsock": null, ignoring vsock.cid.
		c.Vsock = &vsock{GuestCID: s.Vsock.CID, UDSPath: vsockSocket(s)}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// vsockSocket is the host side of the guest's vsock, relative to the VM
// directory (docs/vsock.md).
func vsockSocket(s *spec.Spec) string { return s.Name + ".vsock" }
