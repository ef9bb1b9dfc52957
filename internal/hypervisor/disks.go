package hypervisor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

// Disks are the block devices a generator attaches, in the order the
// guest sees them (vda, vdb, …): an image VM's root disk first, then the
// spec's volumes, then the cloud-init seed when the spec has a
// [cloudInit] section, then the host's modules with hostModules.
//
// The image's root disk (state.ImageRootFile) is the image flattened
// into ext4, shared read-only by every VM of the image; the host links it
// into the VM directory before every start. It comes first so that its
// init finds it as vda on every hypervisor.
//
// The seed is a read-only raw image that the host writes into the VM
// directory before every start (state.SeedFile); the guest's cloud-init
// finds it by its label, cidata, not by its position. The modules image
// (state.ModulesFile) is read-only raw too, made by bin/microvm-run; the
// guest finds it by its label, microvm-modules.
//
// None of them is auto-created by mkfs.
func Disks(s *spec.Spec) []spec.Volume {
	noCreate := false
	var disks []spec.Volume
	if s.Image != "" {
		disks = append(disks, spec.Volume{Image: state.ImageRootFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "ext4", Format: spec.FormatRaw})
	}
	disks = append(disks, s.Volumes...)
	if s.CloudInit != nil {
		disks = append(disks, spec.Volume{Image: state.SeedFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "iso9660", Format: spec.FormatRaw})
	}
	if s.HostModules {
		disks = append(disks, spec.Volume{Image: state.ModulesFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "ext4", Format: spec.FormatRaw})
	}
	return disks
}

// SeedNote explains a disk count that includes disks beyond the spec's
// volumes (an image's root disk, the cloud-init seed, the modules image),
// for errors about too many disks: "" without any.
func SeedNote(s *spec.Spec) string {
	var extra []string
	if s.Image != "" {
		extra = append(extra, "the image's root disk")
	}
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

// Initrd is the initramfs the guest boots: an image VM's is microvm's own
// (state.ImageInitrdFile, whose init runs the image's process), which the
// host links into the VM directory before every start; any other VM's is
// the spec's initrd, "" for none.
func Initrd(s *spec.Spec) string {
	if s.Image != "" {
		return state.ImageInitrdFile
	}
	return s.Initrd
}

// DriveName is the guest's name of the i-th disk of Disks: every
// generator attaches disks as virtio-blk devices in that order, so the
// guest's virtio_blk names them vda, vdb, … (at most 26, checked by
// spec.Validate and each generator).
func DriveName(i int) string { return "vd" + string(rune('a'+i)) }

// RootParams are the kernel parameters that make the guest boot from the
// spec's root volume: root=/dev/vdX and rw, or ro for a read-only one.
// None without a root volume, for an image VM (its init mounts the
// image), or when kernelParams say root= already: the user's root= wins
// (root=/dev/vda1 for a partitioned image).
func RootParams(s *spec.Spec) []string {
	i, ok := s.RootVolume()
	if !ok || s.Image != "" || slices.ContainsFunc(s.KernelParams, func(p string) bool { return strings.HasPrefix(p, "root=") }) {
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
