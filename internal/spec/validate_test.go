package spec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// valid returns a spec using every kind of device that passes Validate.
func valid() *Spec {
	s := &Spec{
		Name:         "vm",
		Kernel:       "bzImage",
		KernelParams: []string{"console=ttyS0"},
		Interfaces: []Interface{
			{Type: "tap", ID: "vm-tap", MAC: "02:00:00:00:00:01"},
			{Type: "macvtap", ID: "vm-mvt", MAC: "02:00:00:00:00:02", Macvtap: Macvtap{Link: "eth0", Mode: "bridge"}},
			{Type: "bridge", ID: "vm-br", MAC: "02:00:00:00:00:03", Bridge: "br0"},
			{Type: "user", ID: "user", MAC: "02:00:00:00:00:04"},
		},
		Shares: []Share{
			{Proto: "virtiofs", Tag: "store", Source: "/nix/store"},
			{Tag: "home", Source: "/home"},
		},
		Volumes: []Volume{
			{Image: "var.img", Size: 64},
			{Image: "data.img", AutoCreate: ptr(false), FsType: "squashfs"},
		},
		Devices:      []Device{{Bus: "pci", Path: "0000:01:00.0"}, {Bus: "usb", Path: "vendorid=0x0bda,productid=0x2838"}},
		Vsock:        Vsock{CID: 3},
		ForwardPorts: []ForwardPort{{Host: Endpoint{Port: 2222}, Guest: Endpoint{Address: "10.0.2.15", Port: 22}}},
	}
	s.ApplyDefaults()
	return s
}

func TestValidateValid(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatal(err)
	}
	s := &Spec{Name: "vm", Kernel: "k"}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Errorf("minimal spec: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *Spec)
		want []string // prefixes of each error, in order; nil: valid
	}{
		{"unknown hypervisor", func(s *Spec) { s.Hypervisor = "xen" }, []string{`hypervisor: unknown hypervisor "xen"`}},
		{"vcpu 0", func(s *Spec) { s.Vcpu = 0 }, []string{"vcpu: 0 is less than 1"}},
		{"mem 31", func(s *Spec) { s.Mem = 31 }, []string{"mem: 31 MiB is too little; expected at least 32 MiB"}},
		{"mem 32", func(s *Spec) { s.Mem = 32 }, nil},
		{"mem max", func(s *Spec) { s.Mem = MaxMem }, nil},
		{"mem 2^63-1", func(s *Spec) { s.Mem = 1<<63 - 1 }, []string{"mem: 9223372036854775807 MiB is more than a guest can address; expected at most 4294967296 MiB"}},
		{"hotplugMem fits max", func(s *Spec) { s.HotplugMem = MaxMem - s.Mem }, nil},
		{"hotplugMem beyond max", func(s *Spec) { s.HotplugMem = MaxMem - s.Mem + 1 }, []string{"hotplugMem: 4294966785 MiB and mem (512 MiB) are more than a guest can address"}},
		{"vcpu max", func(s *Spec) { s.Vcpu = 4096 }, nil},
		{"vcpu 4097", func(s *Spec) { s.Vcpu = 4097 }, []string{"vcpu: 4097 is more than KVM runs in one guest; expected at most 4096"}},
		{"vcpu 100000000", func(s *Spec) { s.Vcpu = 100000000 }, []string{"vcpu: 100000000 is more than"}},
		{"no kernel", func(s *Spec) { s.Kernel = "" }, []string{"kernel: required"}},
		{"kernel newline", func(s *Spec) { s.Kernel = "a\nb" }, []string{`kernel: "a\nb" contains a line break`}},
		{"empty kernel param", func(s *Spec) { s.KernelParams = []string{"a", ""} }, []string{"kernelParams[1]: empty"}},
		{"kernel param with spaces", func(s *Spec) { s.KernelParams = []string{"a b"} }, nil},
		{"socket NUL", func(s *Spec) { s.Socket = ptr("a\x00") }, []string{"socket: "}},
		{"no socket", func(s *Spec) { s.Socket = ptr("") }, nil},
		{"socket fits /vm/", func(s *Spec) { s.Socket = ptr(strings.Repeat("s", 103)) }, nil},
		{"socket beyond /vm/", func(s *Spec) { s.Socket = ptr(strings.Repeat("s", 104)) }, []string{`socket: "` + strings.Repeat("s", 104) + `" is 104 bytes, and at least 108 resolved against the VM directory (/vm/…); a unix socket path holds at most 107 bytes`}},
		{"socket relative cleaned", func(s *Spec) { s.Socket = ptr("./././" + strings.Repeat("s", 103)) }, nil},
		{"absolute socket 107", func(s *Spec) { s.Socket = ptr("/" + strings.Repeat("s", 106)) }, nil},
		{"absolute socket 108", func(s *Spec) { s.Socket = ptr("/" + strings.Repeat("s", 107)) }, []string{"socket: \"/sss"}},
		{"negative hotplugMem", func(s *Spec) { s.HotplugMem = -1; s.HotpluggedMem = ptr(0) }, []string{"hotplugMem: -1 MiB is negative"}},
		{"hotpluggedMem too big", func(s *Spec) { s.HotplugMem = 512; s.HotpluggedMem = ptr(1024) }, []string{"hotpluggedMem: 1024 MiB is outside 0 to hotplugMem (512 MiB)"}},
		{"hotpluggedMem fits", func(s *Spec) { s.HotplugMem = 512; s.HotpluggedMem = ptr(256) }, nil},
		{"preStart NUL", func(s *Spec) { s.PreStart = "echo\x00" }, []string{"preStart: contains a NUL byte"}},
		{"preStart lines", func(s *Spec) { s.PreStart = "a\nb\n" }, nil},
		{"vsock cid 2", func(s *Spec) { s.Vsock.CID = 2 }, []string{"vsock.cid: 2 is not a guest CID"}},
		{"vsock cid -1", func(s *Spec) { s.Vsock.CID = -1 }, []string{"vsock.cid: -1 is not a guest CID"}},
		{"vsock cid any", func(s *Spec) { s.Vsock.CID = 1<<32 - 1 }, []string{"vsock.cid: 4294967295 is not a guest CID"}},
		{"vsock none", func(s *Spec) { s.Vsock.CID = 0 }, nil},

		{"interface without type", func(s *Spec) { s.Interfaces[0].Type = "" }, []string{"interfaces[0].type: required; expected one of tap, macvtap, user, bridge"}},
		{"interface type vde", func(s *Spec) { s.Interfaces[0].Type = "vde" }, []string{`interfaces[0].type: unknown value "vde"`}},
		{"interface without id", func(s *Spec) { s.Interfaces[0].ID = "" }, []string{"interfaces[0].id: interface name is empty"}},
		{"interface id 16 bytes", func(s *Spec) { s.Interfaces[0].ID = "0123456789abcdef" }, []string{"interfaces[0].id: interface name \"0123456789abcdef\" is 16 bytes"}},
		{"interface id 15 bytes", func(s *Spec) { s.Interfaces[0].ID = "0123456789abcde" }, nil},
		{"duplicate ids", func(s *Spec) { s.Interfaces[3].ID = "vm-tap" }, []string{`interfaces[3].id: "vm-tap" is also the id of interfaces[0]`}},
		{"user without mac", func(s *Spec) { s.Interfaces[3].MAC = "" }, []string{"interfaces[3].mac: required"}},
		{"short mac", func(s *Spec) { s.Interfaces[1].MAC = "02:00:00:00:00" }, []string{`interfaces[1].mac: mac address "02:00:00:00:00" has 5 parts; expected six hex octets like 02:00:00:00:00:01`}},
		{"multicast mac", func(s *Spec) { s.Interfaces[0].MAC = "01:00:00:00:00:01" }, []string{"interfaces[0].mac: mac address \"01:00:00:00:00:01\" is multicast"}},
		{"duplicate macs", func(s *Spec) { s.Interfaces[2].MAC = "02:00:00:00:00:0A"; s.Interfaces[3].MAC = "02:00:00:00:00:0a" }, []string{`interfaces[3].mac: "02:00:00:00:00:0a" is also the mac of interfaces[2]`}},
		{"bridge without bridge", func(s *Spec) { s.Interfaces[2].Bridge = "" }, []string{`interfaces[2].bridge: required with type "bridge"`}},
		{"bridge bad name", func(s *Spec) { s.Interfaces[2].Bridge = "br 0" }, []string{`interfaces[2].bridge: interface name "br 0" contains ' '`}},
		{"bridge on tap", func(s *Spec) { s.Interfaces[0].Bridge = "br0" }, []string{`interfaces[0].bridge: only allowed with type "bridge", not "tap"`}},
		{"macvtap without link", func(s *Spec) { s.Interfaces[1].Macvtap.Link = "" }, []string{`interfaces[1].macvtap.link: required with type "macvtap"`}},
		{"macvtap without mode", func(s *Spec) { s.Interfaces[1].Macvtap.Mode = "" }, []string{"interfaces[1].macvtap.mode: required; expected one of private, vepa, bridge, passthru, source"}},
		{"macvtap options on user", func(s *Spec) { s.Interfaces[3].Macvtap.Mode = "vepa" }, []string{`interfaces[3].macvtap: only allowed with type "macvtap", not "user"`}},

		{"share proto nfs", func(s *Spec) { s.Shares[1].Proto = "nfs" }, []string{`shares[1].proto: unknown value "nfs"; expected one of virtiofs, 9p`}},
		{"duplicate tags", func(s *Spec) { s.Shares[1].Tag = "store" }, []string{`shares[1].tag: "store" is also the tag of shares[0]`}},
		{"tag with ..", func(s *Spec) { s.Shares[0].Tag = ".." }, []string{`shares[0].tag: tag ".." contains ".."`}},
		{"share without source", func(s *Spec) { s.Shares[0].Source = "" }, []string{"shares[0].source: required"}},
		{"virtiofs without socket", func(s *Spec) { s.Shares[0].Socket = "" }, []string{`shares[0].socket: required with proto "virtiofs"`}},
		{"virtiofs socket is control socket", func(s *Spec) { s.Shares[0].Socket = "./vm.sock" }, []string{`shares[0].socket: "./vm.sock" is also used by socket`}},
		{"virtiofs sockets shared", func(s *Spec) {
			s.Shares[1] = Share{Proto: "virtiofs", Tag: "b", Source: "/b", Socket: s.Shares[0].Socket}
		}, []string{`shares[1].socket: "vm-virtiofs-store.sock" is also used by shares[0].socket`}},
		{"9p socket ignored", func(s *Spec) { s.Shares[1].Socket = "vm.sock" }, nil},
		{"virtiofs socket absolute 130", func(s *Spec) { s.Shares[0].Socket = "/run/" + strings.Repeat("v", 125) }, []string{`shares[0].socket: "/run/vvv`}},
		{"virtiofs socket relative too long", func(s *Spec) { s.Shares[0].Socket = strings.Repeat("v", 104) }, []string{`shares[0].socket: "vvv`}},
		{"bad security model", func(s *Spec) { s.Shares[1].SecurityModel = "mapped-attr" }, []string{`shares[1].securityModel: unknown value "mapped-attr"`}},

		{"volume without image", func(s *Spec) { s.Volumes[0].Image = "" }, []string{"volumes[0].image: required"}},
		{"duplicate images", func(s *Spec) { s.Volumes[1].Image = "./var.img" }, []string{`volumes[1].image: "./var.img" is also the image of volumes[0]`}},
		{"volume without size", func(s *Spec) { s.Volumes[0].Size = 0 }, []string{"volumes[0].size: required with autoCreate"}},
		{"volume negative size", func(s *Spec) { s.Volumes[1].Size = -1 }, []string{"volumes[1].size: -1 MiB is negative"}},
		{"volume autoCreate unset", func(s *Spec) { s.Volumes[0].AutoCreate = nil; s.Volumes[0].Size = 0 }, []string{"volumes[0].size: required with autoCreate"}},
		{"volume zfs", func(s *Spec) { s.Volumes[0].FsType = "zfs" }, []string{`volumes[0].fsType: "zfs" cannot be created`}},
		{"ext4 label 16", func(s *Spec) { s.Volumes[0].Label = "0123456789abcdef" }, nil},
		{"serial 21 bytes", func(s *Spec) { s.Volumes[0].Serial = "0123456789abcdefghij!" }, []string{`volumes[0].serial: "0123456789abcdefghij!" is 21 bytes; a virtio-blk serial holds at most 20`}},
		{"serial 20 bytes", func(s *Spec) { s.Volumes[0].Serial = "0123456789abcdefghij" }, nil},
		{"ext4 label 17", func(s *Spec) { s.Volumes[0].Label = "0123456789abcdefg" }, []string{`volumes[0].label: "0123456789abcdefg" is 17 bytes; ext4 labels hold at most 16`}},
		{"xfs label 13", func(s *Spec) { s.Volumes[0].FsType = "xfs"; s.Volumes[0].Label = "0123456789abc" }, []string{"volumes[0].label: \"0123456789abc\" is 13 bytes; xfs labels hold at most 12"}},
		{"vfat label 12", func(s *Spec) { s.Volumes[0].FsType = "vfat"; s.Volumes[0].Label = "0123456789ab" }, []string{"volumes[0].label: \"0123456789ab\" is 12 bytes; vfat labels hold at most 11"}},
		{"26 volumes", func(s *Spec) { s.Volumes = volumes(26) }, nil},
		{"27 volumes", func(s *Spec) { s.Volumes = volumes(27) }, []string{"volumes: 27 volumes are too many; at most 26 fit the drive ids vda to vdz"}},
		{"volume size max", func(s *Spec) { s.Volumes[0].Size = 1<<43 - 1 }, nil},
		{"volume size overflows", func(s *Spec) { s.Volumes[0].Size = 1 << 43 }, []string{"volumes[0].size: 8796093022208 MiB is not an image size"}},
		{"volume size without autoCreate", func(s *Spec) { s.Volumes[1].Size = 0 }, nil},
		{"image inside", func(s *Spec) { s.Volumes[0].Image = "disks/../var.img" }, nil},
		{"image dotdot", func(s *Spec) { s.Volumes[0].Image = "../other-vm/disk.img" }, []string{`volumes[0].image: "../other-vm/disk.img" leaves the VM directory`}},
		{"image hidden dotdot", func(s *Spec) { s.Volumes[0].Image = "a/../../b.img" }, []string{`volumes[0].image: "a/../../b.img" leaves the VM directory`}},
		{"image dot", func(s *Spec) { s.Volumes[0].Image = "." }, []string{`volumes[0].image: "." is the VM directory itself`}},
		{"image elsewhere", func(s *Spec) { s.Volumes[0].Image = "/var/lib/images/var.img"; s.Volumes[1].Image = "/srv/data.img" }, nil},
		{"image etc", func(s *Spec) { s.Volumes[0].Image = "/etc/passwd" }, []string{`volumes[0].image: "/etc/passwd" is under /etc, a system directory`}},
		{"image lib32", func(s *Spec) { s.Volumes[0].Image = "/lib32/x" }, []string{`volumes[0].image: "/lib32/x" is under /lib32`}},
		{"image dotdot into root", func(s *Spec) { s.Volumes[0].Image = "/srv/../root/x" }, []string{`volumes[0].image: "/srv/../root/x" is under /root`}},
		{"image by-id", func(s *Spec) {
			s.Volumes[0].Image = "/dev/disk/by-id/nvme-x"
			s.Volumes[1].Image = "/dev/mapper/vg-data"
		}, nil},
		{"image lvm", func(s *Spec) { s.Volumes[0].Image = "/dev/vg0/var"; s.Volumes[1].Image = "/dev/vg_1/data.2" }, nil},
		{"image kernel disk name", func(s *Spec) { s.Volumes[0].Image = "/dev/nvme0n1" }, []string{`volumes[0].image: "/dev/nvme0n1" is under /dev`}},
		{"image dev dirs", func(s *Spec) { s.Volumes[0].Image = "/dev/pts/0"; s.Volumes[1].Image = "/dev/disk" }, []string{
			`volumes[0].image: "/dev/pts/0" is under /dev`,
			`volumes[1].image: "/dev/disk" is under /dev`,
		}},
		{"image lvm bad name", func(s *Spec) { s.Volumes[0].Image = "/dev/-vg/x"; s.Volumes[1].Image = "/dev/vg/a/b" }, []string{
			`volumes[0].image: "/dev/-vg/x" is under /dev`,
			`volumes[1].image: "/dev/vg/a/b" is under /dev`,
		}},

		{"device bus isa", func(s *Spec) { s.Devices[0].Bus = "isa" }, []string{`devices[0].bus: unknown value "isa"; expected one of pci, usb`}},
		{"pci short address", func(s *Spec) { s.Devices[0].Path = "01:00.0" }, []string{`devices[0].path: pci address "01:00.0" is malformed`}},
		{"pci shell expression", func(s *Spec) { s.Devices[0].Path = "$(detect-id)" }, []string{"devices[0].path: pci address"}},
		{"pci twice", func(s *Spec) { s.Devices[1] = Device{Bus: "pci", Path: "0000:01:00.0"} }, []string{`devices[1].path: "0000:01:00.0" is also the path of devices[0]`}},
		{"usb without path", func(s *Spec) { s.Devices[1].Path = "" }, []string{"devices[1].path: required"}},
		{"usb with space", func(s *Spec) { s.Devices[1].Path = "a b" }, []string{`devices[1].path: "a b" contains whitespace`}},

		{"forwardPorts without user", func(s *Spec) { s.Interfaces = s.Interfaces[:3] }, []string{`forwardPorts: needs an interface of type "user"`}},
		{"forwardPorts from", func(s *Spec) { s.ForwardPorts[0].From = "both" }, []string{`forwardPorts[0].from: unknown value "both"; expected one of host, guest`}},
		{"forwardPorts proto", func(s *Spec) { s.ForwardPorts[0].Proto = "sctp" }, []string{`forwardPorts[0].proto: unknown value "sctp"; expected one of tcp, udp`}},
		{"forwardPorts ports", func(s *Spec) { s.ForwardPorts[0].Host.Port = 0; s.ForwardPorts[0].Guest.Port = 65536 }, []string{
			"forwardPorts[0].host.port: 0 is not a port; expected 1 to 65535",
			"forwardPorts[0].guest.port: 65536 is not a port",
		}},
		{"forwardPorts address", func(s *Spec) { s.ForwardPorts[0].Host.Address = "localhost" }, []string{`forwardPorts[0].host.address: "localhost" is not an IP address`}},

		{"several problems", func(s *Spec) { s.Vcpu = -1; s.Mem = 1; s.Kernel = "" }, []string{"vcpu: ", "mem: ", "kernel: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.edit(s)
			got := split(s.Validate())
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tt.want), errors.Join(got...))
			}
			for i, err := range got {
				if !strings.HasPrefix(err.Error(), tt.want[i]) {
					t.Errorf("error %d = %q; want prefix %q", i, err, tt.want[i])
				}
				var e *Error
				if !errors.As(err, &e) || e.Path == "" || !strings.HasPrefix(tt.want[i], e.Path+": ") {
					t.Errorf("error %d is not an *Error with the option path: %#v", i, err)
				}
			}
		})
	}
}

func volumes(n int) []Volume {
	v := make([]Volume, n)
	for i := range v {
		v[i] = Volume{Image: fmt.Sprintf("v%d.img", i), Size: 1, FsType: "ext4", AutoCreate: ptr(true)}
	}
	return v
}

func TestApplyDefaultsLowercasesPCIAddresses(t *testing.T) {
	s := valid()
	s.Devices = []Device{{Bus: "pci", Path: "0000:0A:1F.7"}, {Bus: "pci", Path: "0000:0G:00.0"}, {Bus: "usb", Path: "vendorid=0xABCD"}}
	s.ApplyDefaults()
	want := []Device{{Bus: "pci", Path: "0000:0a:1f.7"}, {Bus: "pci", Path: "0000:0G:00.0"}, {Bus: "usb", Path: "vendorid=0xABCD"}}
	if !slices.Equal(s.Devices, want) {
		t.Errorf("devices after ApplyDefaults = %v; want %v (valid PCI addresses lowercased, the rest as written)", s.Devices, want)
	}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `devices[1].path: pci address "0000:0G:00.0" contains 'G'`) {
		t.Errorf("Validate = %v; want the invalid address quoted as written", err)
	}
}
