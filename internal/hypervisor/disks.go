package hypervisor

import (
	"fmt"

	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

// Disks are the block devices a generator attaches, in the order the
// guest sees them (vda, vdb, …): the spec's volumes, then the cloud-init
// seed when the spec has a [cloudInit] section. The seed is a read-only
// raw image that the host writes into the VM directory before every start
// (state.SeedFile); the guest's cloud-init finds it by its label, cidata,
// not by its position. It is not auto-created by bin/microvm-run.
func Disks(s *spec.Spec) []spec.Volume {
	if s.CloudInit == nil {
		return s.Volumes
	}
	noCreate := false
	seed := spec.Volume{Image: state.SeedFile, ReadOnly: true, AutoCreate: &noCreate, FsType: "iso9660"}
	return append(s.Volumes[:len(s.Volumes):len(s.Volumes)], seed)
}

// SeedNote explains a disk count that includes the cloud-init seed, for
// errors about too many disks: "" without a seed.
func SeedNote(s *spec.Spec) string {
	if s.CloudInit == nil {
		return ""
	}
	return fmt.Sprintf(" (%d volumes and the cloud-init seed)", len(s.Volumes))
}
