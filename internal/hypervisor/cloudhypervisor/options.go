package cloudhypervisor

import (
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// memory is --memory's value, keys sorted as microvm.nix renders them
// (docs/memory.md).
func memory(s *spec.Spec) string {
	var opts []string
	if s.HotplugMem > 0 {
		// microvm.nix also replaces size with hotplugMem; size is the
		// boot memory and hotplug_size the room for more, so size stays
		// mem here.
		opts = append(opts,
			"hotplug_method=virtio-mem",
			"hotplug_size="+strconv.Itoa(s.HotplugMem)+"M",
			"hotplugged_size="+strconv.Itoa(*s.HotpluggedMem)+"M")
	}
	// virtiofsd maps guest memory, which must therefore be shared; shared
	// memory cannot be merged by KSM, so it is off otherwise.
	shared := "off"
	if len(s.Shares) > 0 {
		shared = "on"
	}
	opts = append(opts, "mergeable=on", "shared="+shared, "size="+strconv.Itoa(s.Mem)+"M")
	return strings.Join(opts, ",")
}

// disks are --disk's values: one per volume, keys sorted.
func disks(s *spec.Spec) []string {
	queues := ""
	if s.Vcpu > 1 {
		queues = "num_queues=" + strconv.Itoa(s.Vcpu)
	}
	var out []string
	for _, v := range s.Volumes {
		serial := ""
		if v.Serial != "" {
			serial = "serial=" + v.Serial
		}
		out = append(out, opts("direct="+onOff(v.Direct), queues, "path="+v.Image,
			"readonly="+onOff(v.ReadOnly), serial))
	}
	return out
}

// nets are --net's values, keys sorted. With several vcpus each tap gets a
// queue pair per vcpu; the tap must then be created multi_queue.
func nets(s *spec.Spec, macvtaps []hypervisor.MacvtapFDs, multiQueue bool) []string {
	queues := ""
	if multiQueue {
		queues = "num_queues=" + strconv.Itoa(2*s.Vcpu)
	}
	var out []string
	m := 0
	for _, i := range s.Interfaces {
		mac := ""
		if i.MAC != "" {
			mac = "mac=" + i.MAC
		}
		switch i.Type {
		case "tap":
			out = append(out, opts(mac, queues, "tap="+i.ID))
		case "macvtap":
			// docs/macvtap-bridge.md: fd= takes the fds bin/microvm-run
			// opened on /dev/tapN, one per queue.
			fds := make([]string, len(macvtaps[m].FDs))
			for j, fd := range macvtaps[m].FDs {
				fds[j] = strconv.Itoa(fd)
			}
			m++
			out = append(out, opts("fd=["+strings.Join(fds, ",")+"]", mac, queues))
		}
	}
	return out
}

// opts joins the non-empty k=v options with commas.
func opts(kvs ...string) string {
	var out []string
	for _, kv := range kvs {
		if kv != "" {
			out = append(out, kv)
		}
	}
	return strings.Join(out, ",")
}

// macvtapFDs numbers the macvtap fds: one per queue, vcpu queues when
// multi-queue.
func macvtapFDs(s *spec.Spec, multiQueue bool) []hypervisor.MacvtapFDs {
	if multiQueue {
		return hypervisor.NumberMacvtapFDs(s, s.Vcpu)
	}
	return hypervisor.NumberMacvtapFDs(s, 1)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
