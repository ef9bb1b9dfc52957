// Package spec is the VM spec file: TOML whose keys mirror microvm.nix's
// microvm.* options, so a NixOS user can translate a guest 1:1. It parses,
// fills in microvm.nix's defaults and validates what does not depend on
// the hypervisor; hypervisor-specific checks live with each generator.
package spec

// Spec is one VM. Paths of kernel and initrd are relative to the spec
// file's directory; sockets, volume images and share sources are relative
// to the VM directory, as in microvm.nix.
type Spec struct {
	// Name is the VM name: the spec file's base name without .toml.
	Name string `toml:"-"`

	Hypervisor string `toml:"hypervisor"` // default "qemu"
	Vcpu       int    `toml:"vcpu"`       // default 1
	Mem        int    `toml:"mem"`        // MiB, default 512
	Kernel     string `toml:"kernel"`     // required, unless image is set
	Initrd     string `toml:"initrd"`
	// Image is an OCI image the VM boots instead of its own root file
	// system: docker-archive:FILE[:NAME:TAG], oci-layout:DIR[:TAG] (both
	// relative to the spec file's directory) or a registry reference.
	// The host's kernel boots it (when kernel is not set) with an
	// initramfs of microvm's, whose init runs the image's entrypoint and
	// cmd (package oci). Left out of the JSON (the runner's identity)
	// when empty, so specs without one keep their identity.
	Image string `toml:"image" json:",omitempty"`
	// Process changes what an image VM runs; nil runs the image's own
	// process. Left out of the JSON (the runner's identity) when nil.
	Process      *Process `toml:"process" json:",omitempty"`
	KernelParams []string `toml:"kernelParams"`
	// Socket is the hypervisor's control socket; default "NAME.sock".
	// An explicit empty string disables it, and with it graceful shutdown.
	Socket          *string `toml:"socket"`
	Balloon         bool    `toml:"balloon"`
	DeflateOnOOM    *bool   `toml:"deflateOnOOM"` // default true
	HotplugMem      int     `toml:"hotplugMem"`   // MiB, cloud-hypervisor only
	HotpluggedMem   *int    `toml:"hotpluggedMem"`
	User            string  `toml:"user"` // qemu -user
	PreStart        string  `toml:"preStart"`
	PrettyProcnames *bool   `toml:"prettyProcnames"` // default true

	Interfaces   []Interface   `toml:"interfaces"`
	Shares       []Share       `toml:"shares"`
	Volumes      []Volume      `toml:"volumes"`
	Devices      []Device      `toml:"devices"`
	Vsock        Vsock         `toml:"vsock"`
	ForwardPorts []ForwardPort `toml:"forwardPorts"`
	// CloudInit is nil without a [cloudInit] section. Left out of the
	// JSON (the runner's identity) when nil, so that specs without one
	// keep the identity they had before the section existed.
	CloudInit *CloudInit `toml:"cloudInit" json:",omitempty"`
	// HostModules attaches the host's modules for the guest's kernel
	// (/lib/modules/RELEASE) as a read-only ext4 image labelled
	// microvm-modules, for guests that boot the host's kernel without
	// its modules; the guest mounts it on /lib/modules.
	HostModules bool `toml:"hostModules"`

	Qemu            QemuOptions `toml:"qemu"`
	CloudHypervisor ExtraArgs   `toml:"cloud-hypervisor"`
	Firecracker     ExtraArgs   `toml:"firecracker"`
	Crosvm          ExtraArgs   `toml:"crosvm"`
	Kvmtool         ExtraArgs   `toml:"kvmtool"`
	Stratovirt      ExtraArgs   `toml:"stratovirt"`
	Alioth          ExtraArgs   `toml:"alioth"`
}

// Process is the [process] table of an image VM: what it runs instead
// of what its image says, by the rules of a Kubernetes container.
type Process struct {
	// Command replaces the image's entrypoint, and drops its cmd.
	Command []string `toml:"command" json:",omitempty"`
	// Args replaces the image's cmd: the arguments of the entrypoint, or
	// of Command when it is set too.
	Args []string `toml:"args" json:",omitempty"`
	// Env entries, NAME=VALUE, are added to the image's environment; a
	// NAME it has already gets the new value.
	Env []string `toml:"env" json:",omitempty"`
	// WorkingDir, absolute, replaces the image's working directory.
	WorkingDir string `toml:"workingDir" json:",omitempty"`
}

// Interface is a guest network interface.
type Interface struct {
	Type    string  `toml:"type"` // tap | macvtap | user | bridge
	ID      string  `toml:"id"`   // host interface name, at most 15 bytes
	MAC     string  `toml:"mac"`
	Bridge  string  `toml:"bridge"` // type = "bridge" only
	Macvtap Macvtap `toml:"macvtap"`
	// Network names a managed network of the host (host.toml
	// [network.NAME], e.g. "default"), whose bridge the tap is attached
	// to; type = "tap" only. Left out of the runner's identity when
	// empty, so runners built before it existed stay current.
	Network string `toml:"network" json:",omitempty"`
}

// Macvtap holds the macvtap-only options.
type Macvtap struct {
	Link string `toml:"link"`
	Mode string `toml:"mode"` // private | vepa | bridge | passthru | source
}

// Share is a host directory shared with the guest.
type Share struct {
	Proto         string `toml:"proto"` // virtiofs | 9p; default 9p as in microvm.nix
	Tag           string `toml:"tag"`
	Source        string `toml:"source"`
	MountPoint    string `toml:"mountPoint"`
	Socket        string `toml:"socket"`        // virtiofs; default "NAME-virtiofs-TAG.sock"
	SecurityModel string `toml:"securityModel"` // 9p; default "none"
}

// Volume is a disk image attached to the guest.
type Volume struct {
	Image      string   `toml:"image"`
	Size       int      `toml:"size"` // MiB; required with autoCreate
	FsType     string   `toml:"fsType"`
	Label      string   `toml:"label"`
	ReadOnly   bool     `toml:"readOnly"`
	AutoCreate *bool    `toml:"autoCreate"` // default true
	MountPoint string   `toml:"mountPoint"`
	Serial     string   `toml:"serial"`
	Direct     bool     `toml:"direct"`
	MkfsArgs   []string `toml:"mkfsExtraArgs"`
	// Root marks the disk the guest boots from: the generators add
	// root=/dev/vdX for it unless kernelParams say root= already. A
	// mountPoint of "/" marks it too, as in microvm.nix.
	Root bool `toml:"root"`
	// Format is the image's format, raw or qcow2, checked against the
	// image's header at every start. Default: qcow2 with base (raw with
	// convert), else raw.
	Format string `toml:"format"`
	// Base is a read-only image the volume is made from on first start
	// instead of mkfs: a qcow2 overlay backed by it, or with Convert a
	// full raw copy, for hypervisors without qcow2 backing files.
	// Relative to the spec file's directory.
	Base    string `toml:"base"`
	Convert bool   `toml:"convert"`
}

// IsRoot reports whether v is marked as the root disk.
func (v Volume) IsRoot() bool { return v.Root || v.MountPoint == "/" }

// Device is a passed-through host device.
type Device struct {
	Bus  string `toml:"bus"`  // pci | usb
	Path string `toml:"path"` // PCI address, or a qemu usb-host selector
}

// Vsock is the guest's vsock device.
type Vsock struct {
	CID int `toml:"cid"` // 0: none; otherwise >= 3
}

// ForwardPort forwards a port of qemu's user networking.
type ForwardPort struct {
	From  string   `toml:"from"`  // host | guest; default host
	Proto string   `toml:"proto"` // tcp | udp; default tcp
	Host  Endpoint `toml:"host"`
	Guest Endpoint `toml:"guest"`
}

// Endpoint is one side of a forwarded port.
type Endpoint struct {
	Address string `toml:"address"`
	Port    int    `toml:"port"`
}

// CloudInit is the guest's cloud-init NoCloud seed. The host builds it
// at every start, writes it into the VM directory readable only by root
// and the VM group, and attaches it as a read-only disk labelled cidata;
// its content never enters the runner package, which anyone can read.
type CloudInit struct {
	// UserData is the user-data itself, UserDataFile a file holding it
	// (relative to the spec file's directory); at most one is set.
	UserData     string `toml:"userData"`
	UserDataFile string `toml:"userDataFile"`
	// SSHAuthorizedKeys are added to #cloud-config user-data's
	// ssh_authorized_keys (cloudinit.MergeKeys states the rule).
	SSHAuthorizedKeys []string `toml:"sshAuthorizedKeys"`
	Hostname          string   `toml:"hostname"` // default: the VM name
	// NetworkConfig is a network config version 2 document,
	// NetworkConfigFile a file holding one; at most one is set.
	NetworkConfig     string `toml:"networkConfig"`
	NetworkConfigFile string `toml:"networkConfigFile"`
}

// ExtraArgs are arguments appended to a hypervisor's command line.
type ExtraArgs struct {
	ExtraArgs []string `toml:"extraArgs"`
}

// QemuOptions are qemu's own options.
type QemuOptions struct {
	ExtraArgs     []string `toml:"extraArgs"`
	Machine       string   `toml:"machine"`       // default "microvm"
	SerialConsole *bool    `toml:"serialConsole"` // default true
}
