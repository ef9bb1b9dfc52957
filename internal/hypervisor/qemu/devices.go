package qemu

import (
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

// volumes attaches each volume as vda, vdb, … in spec order: there is no
// store disk taking vda as in microvm.nix. The cloud-init seed and the
// modules image come last, as read-only virtio-blk drives like a volume.
// The format is always given: qemu probing a raw image could be steered
// by what the guest wrote into it.
func (p *plan) volumes() {
	for i, v := range hypervisor.Disks(p.s) {
		id := hypervisor.DriveName(i)
		drive := "id=" + id + ",format=" + v.Format + ",file=" + optValue(v.Image) +
			",if=none,aio=io_uring,discard=unmap"
		if v.Direct {
			// microvm.nix adds cache=none to every volume because it
			// tests "direct != null" on a boolean; only direct volumes
			// bypass the host page cache here.
			drive += ",cache=none"
		}
		drive += ",read-only=" + onOff(v.ReadOnly)
		dev := p.dev("virtio-blk") + ",drive=" + id
		if v.Serial != "" {
			dev += ",serial=" + optValue(v.Serial)
		}
		p.add("-drive", drive, "-device", dev)
	}
}

// shares attaches virtiofs and 9p shares, numbered over all shares.
func (p *plan) shares() {
	if len(p.s.Shares) == 0 {
		return
	}
	// vhost-user-fs needs guest RAM that virtiofsd can map: a shared memfd
	// as the only NUMA node's memory. microvm.nix adds it for 9p too.
	p.add("-object", "memory-backend-memfd,id=mem,size="+strconv.Itoa(p.s.Mem)+"M,share=on",
		"-numa", "node,memdev=mem")
	for i, sh := range p.s.Shares {
		id := "fs" + strconv.Itoa(i)
		switch sh.Proto {
		case "virtiofs":
			p.add("-chardev", "socket,id="+id+",path="+optValue(sh.Socket),
				"-device", p.dev("vhost-user-fs")+",chardev="+id+",tag="+optValue(sh.Tag))
		case "9p":
			p.add("-fsdev", "local,id="+id+",path="+optValue(sh.Source)+",security_model="+sh.SecurityModel,
				"-device", p.dev("virtio-9p")+",fsdev="+id+",mount_tag="+optValue(sh.Tag))
		}
	}
}

// interfaces adds a netdev and a virtio-net device per interface.
func (p *plan) interfaces() {
	fds := map[string][]int{}
	for _, m := range p.macvtapFDs {
		fds[m.ID] = m.FDs
	}
	for _, i := range p.s.Interfaces {
		netdev := []string{i.Type, "id=" + i.ID}
		switch i.Type {
		case "user":
			netdev = append(netdev, p.forwards()...)
		case "bridge":
			netdev = append(netdev, "br="+i.Bridge, "helper="+BridgeHelper)
		case "tap":
			netdev = append(netdev, "ifname="+i.ID, "script=no", "downscript=no")
			if p.multiQueue {
				netdev = append(netdev, "queues="+strconv.Itoa(p.s.Vcpu))
			}
		case "macvtap":
			// A macvtap is a tap device opened by bin/microvm-run.
			netdev[0] = "tap"
			if f := fds[i.ID]; len(f) == 1 {
				netdev = append(netdev, "fd="+strconv.Itoa(f[0]))
			} else {
				netdev = append(netdev, "fds="+joinInts(f, ":"))
			}
		}
		dev := p.dev("virtio-net") + ",netdev=" + i.ID
		if i.MAC != "" {
			dev += ",mac=" + i.MAC
		}
		if p.pci {
			// Skip the iPXE option ROM; the kernel is loaded directly.
			// virtio-net-device (mmio) has no romfile property.
			dev += ",romfile="
		}
		if p.multiQueue && p.pci && (i.Type == "tap" || i.Type == "macvtap") {
			// Only tap and macvtap have one queue per vcpu; microvm.nix
			// advertised multi-queue on user and bridge netdevs too,
			// stalling inbound connections (microvm.nix#553).
			dev += ",mq=on,vectors=" + strconv.Itoa(2*p.s.Vcpu+2)
		}
		p.add("-netdev", strings.Join(netdev, ","), "-device", dev)
	}
}

// forwards are the user netdev's hostfwd/guestfwd options. guestfwd runs
// nc from PATH (microvm.nix: the netcat package's).
func (p *plan) forwards() []string {
	var out []string
	for _, fp := range p.s.ForwardPorts {
		h, g := fp.Host, fp.Guest
		if fp.From == "guest" {
			out = append(out, "guestfwd="+fp.Proto+":"+g.Address+":"+strconv.Itoa(g.Port)+
				"-cmd:nc "+h.Address+" "+strconv.Itoa(h.Port))
		} else {
			out = append(out, "hostfwd="+fp.Proto+":"+h.Address+":"+strconv.Itoa(h.Port)+
				"-"+g.Address+":"+strconv.Itoa(g.Port))
		}
	}
	return out
}

// devices passes through PCI and USB devices. microvm.nix appends these
// unescaped so a path can be a shell expression; here they are plain
// arguments.
func (p *plan) devices() {
	for _, d := range p.s.Devices {
		switch d.Bus {
		case "pci":
			p.add("-device", "vfio-pci,host="+d.Path+",multifunction=on")
		case "usb":
			p.add("-device", "usb-host,"+d.Path)
		}
	}
}

func joinInts(ns []int, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}
