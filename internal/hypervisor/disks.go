package hypervisor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

// Disks are the block devices a generator attaches, in the order the
// guest sees them (vda, vdb, …): the spec's volumes, then the cloud-init
// seed when the spec has a [cloudInit] section, then the host's modules
// with hostModules. The seed is a read-only raw image that the host writes
// into the VM directory before every start (state.SeedFile); the guest's
// cloud-init finds it by its label, cidata, not by its position. The
// modules image (state.ModulesFile) is read-only raw too, made by
// bin/microvm-run; the guest finds it by its label, microvm-modules.
// Neither is auto-created by mkfs.
func Disks(s *spec.Spec) []spec.Volume {
	disks := s.Volumes[:len(s.Volumes):len(s.Volumes)]
	noCreate := false
	if s.CloudInit != nil {
		disks = append(disks, spec.Volume{Image: state.SeedFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "iso9660", Format: spec.FormatRaw})
	}
	if s.HostModules {
		disks = append(disks, spec.Volume{Image: state.ModulesFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "ext4", Format: spec.FormatRaw})
	}
	return disks
}

// SeedNote explains a disk count that includes the cloud-init seed or the
// modules image, for errors about too many disks: "" without either.
func SeedNote(s *spec.Spec) string {
	var extra []string
	if s.CloudInit != nil {
		extra = append(extra, "the cloud-init seed")
	}
	if s.HostModules {
		extra = append(extra, "the host's modules")
	}
	if len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d volumes and %s)", len(s.Volumes), strings.Join(extra, " and "))
}

// DriveName is the guest's name of the i-th disk of Disks: every
// generator attaches disks as virtio-blk devices in that order, so the
// guest's virtio_blk names them vda, vdb, … (at most 26, checked by
// spec.Validate and each generator).
func DriveName(i int) string { return "vd" + string(rune('a'+i)) }

// RootParams are the kernel parameters that make the guest boot from the
// spec's root volume: root=/dev/vdX and rw, or ro for a read-only one.
// None without a root volume, or when kernelParams say root= already:
// the user's root= wins (root=/dev/vda1 for a partitioned image).
func RootParams(s *spec.Spec) []string {
	i, ok := s.RootVolume()
	if !ok || slices.ContainsFunc(s.KernelParams, func(p string) bool { return strings.HasPrefix(p, "root=") }) {
		return nil
	}
	mode := "rw"
	if s.Volumes[i].ReadOnly {
		mode = "ro"
	}
	return []string{"root=/dev/" + DriveName(i), mode}
}

// KernelParams are the spec's kernel parameters preceded by RootParams,
// what every generator appends to its own console options.
func KernelParams(s *spec.Spec) []string {
	return append(RootParams(s), s.KernelParams...)
}
