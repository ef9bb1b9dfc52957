package hypervisor

import (
	"fmt"

	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

// Disks are the block devices a generator attaches, in the order the
// guest sees them (vda, vdb, …): an image VM's root disk first, then the
// spec's volumes, then the cloud-init seed when the spec has a
// [cloudInit] section.
//
// The image's root disk (state.ImageRootFile) is the image flattened
// into ext4, shared read-only by every VM of the image; the host links it
// into the VM directory before every start. It comes first so that its
// init finds it as vda on every hypervisor.
//
// The seed is a read-only raw image that the host writes into the VM
// directory before every start (state.SeedFile); the guest's cloud-init
// finds it by its label, cidata, not by its position.
//
// Neither is auto-created by bin/microvm-run.
func Disks(s *spec.Spec) []spec.Volume {
	noCreate := false
	var disks []spec.Volume
	if s.Image != "" {
		disks = append(disks, spec.Volume{Image: state.ImageRootFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "ext4"})
	}
	disks = append(disks, s.Volumes...)
	if s.CloudInit != nil {
		disks = append(disks, spec.Volume{Image: state.SeedFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "iso9660"})
	}
	if len(disks) == len(s.Volumes) {
		return s.Volumes
	}
	return disks
}

// SeedNote explains a disk count that includes the cloud-init seed or an
// image's root disk, for errors about too many disks: "" without either.
func SeedNote(s *spec.Spec) string {
	switch {
	case s.CloudInit != nil:
		return fmt.Sprintf(" (%d volumes and the cloud-init seed)", len(s.Volumes))
	case s.Image != "":
		return fmt.Sprintf(" (the image's root disk and %d volumes)", len(s.Volumes))
	}
	return ""
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
