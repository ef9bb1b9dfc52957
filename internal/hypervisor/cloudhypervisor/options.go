package cloudhypervisor

import (
	"errors"
	"fmt"
	"slices"
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
	// memory cannot be merged by KSM, so mergeable is on otherwise. Not
	// both: since 52.0 cloud-hypervisor refuses "mergeable=on,shared=on"
	// (InvalidSharedMemoryWithMergeable in cloud-hypervisor
	// vmm/src/config.rs, VmConfig::validate), and older releases ignored
	// mergeable for shared memory anyway, so leaving the key out is right
	// on every release, as microvm.nix does.
	if len(s.Shares) > 0 {
		opts = append(opts, "shared=on")
	} else {
		opts = append(opts, "mergeable=on", "shared=off")
	}
	opts = append(opts, "size="+strconv.Itoa(s.Mem)+"M")
	return strings.Join(opts, ",")
}

// imageTypeSince is the first release with --disk image_type.
var imageTypeSince = hypervisor.V(50, 1)

// disks are --disk's values for release: one per volume, keys sorted, and
// the releases they work with.
//
// From 50.1 on, a raw image whose type was not given is auto-detected,
// and writes to its sector 0 are refused (cloud-hypervisor
// virtio-devices/src/block.rs: "Attempting to write to sector 0 on a disk
// without specifying image_type"; PR #7728), so the guest gets EIO where
// ext4 keeps its superblock (microvm.nix #476). image_type=raw fixes that,
// but releases before 50.1 refuse the key as unknown (vmm/src/config.rs,
// DiskConfig::parse): the key follows the probed release, and the runner
// records which side of 50.1 it was made for.
func disks(s *spec.Spec, release hypervisor.Version) ([]string, hypervisor.Versions) {
	vols := hypervisor.Disks(s)
	if len(vols) == 0 {
		return nil, hypervisor.Versions{}
	}
	typed, requires := true, hypervisor.Versions{Min: imageTypeSince}
	if release.Compare(imageTypeSince) < 0 {
		// Read-only volumes never write sector 0: only writable ones
		// make the runner wrong on 50.1 and later. Qcow2 images are
		// detected by their header before 50.1.
		typed, requires = false, hypervisor.Versions{}
		if slices.ContainsFunc(vols, func(v spec.Volume) bool { return !v.ReadOnly && v.Format == spec.FormatRaw }) {
			requires.Below = imageTypeSince
		}
	}
	queues := ""
	if s.Vcpu > 1 {
		queues = "num_queues=" + strconv.Itoa(s.Vcpu)
	}
	var out []string
	for _, v := range vols {
		serial := ""
		if v.Serial != "" {
			// At most 20 bytes (DiskConfig::validate), checked by
			// spec.Validate for every hypervisor.
			serial = "serial=" + v.Serial
		}
		imageType, backing := "", ""
		if typed {
			imageType = "image_type=" + v.Format
		}
		if v.Base != "" && v.Format == spec.FormatQcow2 {
			// Off by default from 50.1 (GHSA-jmr4-g2hv-mjj6); the
			// overlay's backing file is the spec's base.
			backing = "backing_files=on"
		}
		out = append(out, opts(backing, "direct="+onOff(v.Direct), imageType, queues, "path="+v.Image,
			"readonly="+onOff(v.ReadOnly), serial))
	}
	return out, requires
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

// checkBackingFiles refuses overlays for releases before 50.1: those
// cannot be told backing_files=on, and opened backing files without being
// asked, whatever an image named (GHSA-jmr4-g2hv-mjj6).
func checkBackingFiles(s *spec.Spec, release hypervisor.Version) error {
	if release.Compare(imageTypeSince) >= 0 {
		return nil
	}
	var errs []error
	for i, v := range s.Volumes {
		if v.Base != "" && v.Format == spec.FormatQcow2 {
			errs = append(errs, &spec.Error{Path: fmt.Sprintf("volumes[%d].base", i), Err: fmt.Errorf(
				"cloud-hypervisor %s cannot be told to open qcow2 backing files (backing_files=on exists from 50.1); use 50.1 or later, or set convert = true for a raw copy of the base: %w",
				release, hypervisor.ErrUnsupported)})
		}
	}
	return errors.Join(errs...)
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
