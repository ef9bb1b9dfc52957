package ociinit

import (
	"fmt"
	"net/netip"
	"strings"
)

// Options are what the kernel command line asks of the init, in the demo
// guest's conventions (package guest):
//
//	microvm.ip=IFACE:ADDR/PREFIX            repeatable
//	microvm.dhcp=IFACE                      repeatable
//	microvm.volume=DEV:MOUNTPOINT[:FSTYPE]  repeatable
//	microvm.share=TAG:MOUNTPOINT:PROTO      PROTO virtiofs or 9p; repeatable
//
// Mount points are inside the image's root file system.
type Options struct {
	Addresses []Address
	DHCP      []string
	Volumes   []Volume
	Shares    []Share
}

// Address is a static address of an interface.
type Address struct {
	Iface  string
	Prefix netip.Prefix
}

// Volume is a disk to mount.
type Volume struct {
	Device, MountPoint, FsType string
}

// Share is a host directory to mount.
type Share struct {
	Tag, MountPoint, Proto string
}

// ParseCmdline reads the microvm.* parameters of a kernel command line;
// others are the kernel's. Every malformed one is reported, joined, so
// the console shows all of them at once.
func ParseCmdline(cmdline string) (Options, []error) {
	var o Options
	var errs []error
	bad := func(param, want string) {
		errs = append(errs, fmt.Errorf("kernel parameter %q: expected %s", param, want))
	}
	for _, p := range strings.Fields(cmdline) {
		key, val, _ := strings.Cut(p, "=")
		f := strings.Split(val, ":")
		switch key {
		case "microvm.ip":
			pfx, err := netip.ParsePrefix(f[len(f)-1])
			if len(f) != 2 || f[0] == "" || err != nil || !pfx.Addr().Is4() {
				bad(p, "microvm.ip=IFACE:ADDR/PREFIX, like eth0:10.0.2.15/24")
				continue
			}
			o.Addresses = append(o.Addresses, Address{Iface: f[0], Prefix: pfx})
		case "microvm.dhcp":
			if val == "" || strings.ContainsAny(val, ":/") {
				bad(p, "microvm.dhcp=IFACE, like eth0")
				continue
			}
			o.DHCP = append(o.DHCP, val)
		case "microvm.volume":
			if len(f) < 2 || len(f) > 3 || !strings.HasPrefix(f[0], "/dev/") || !strings.HasPrefix(f[1], "/") {
				bad(p, "microvm.volume=DEV:MOUNTPOINT[:FSTYPE], like /dev/vdb:/data:ext4")
				continue
			}
			v := Volume{Device: f[0], MountPoint: f[1]}
			if len(f) == 3 {
				v.FsType = f[2]
			}
			o.Volumes = append(o.Volumes, v)
		case "microvm.share":
			if len(f) != 3 || f[0] == "" || !strings.HasPrefix(f[1], "/") || (f[2] != "virtiofs" && f[2] != "9p") {
				bad(p, "microvm.share=TAG:MOUNTPOINT:PROTO with PROTO virtiofs or 9p, like home:/home:virtiofs")
				continue
			}
			o.Shares = append(o.Shares, Share{Tag: f[0], MountPoint: f[1], Proto: f[2]})
		}
	}
	return o, errs
}
