package generate

import (
	"fmt"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/spec"
)

// What the hypervisor does with a file it opens (Open.Access).
const (
	AccessRead      = "read"
	AccessReadWrite = "read-write"
	AccessDir       = "dir" // list and enter: a share the hypervisor serves itself
	// AccessShared is read, and never write: a base image that many
	// VMs' overlays read, which a guest escaping into its hypervisor
	// must not be able to change under the others.
	AccessShared = "shared-read"
)

// Open is a host file the hypervisor opens itself, as the VM user: the
// files a pre-start check (package preflight) can make sure it may open,
// because the runner says so here. Hand-written runners say nothing.
type Open struct {
	What   string `json:"what"`   // the spec option naming it: "kernel", "volumes[0].image"
	Path   string `json:"path"`   // absolute, or relative to the VM directory
	Access string `json:"access"` // AccessRead, AccessReadWrite or AccessDir
	// Created is set when bin/microvm-run creates the file if it is
	// missing (a volume with autoCreate).
	Created bool `json:"created,omitempty"`
}

// opens lists what the hypervisor of s opens: kernel and initrd (made
// absolute against specDir), every volume image and base (an overlay's
// backing file is opened by the hypervisor, a raw copy is made from it by
// bin/microvm-run, both as the VM user), the sources of 9p shares, which
// the hypervisor serves itself (virtiofs sources are virtiofsd's, which
// runs as root), and with hostModules the host's modules of release, which
// bin/microvm-run copies into the modules image.
func opens(s *spec.Spec, specDir, modulesRoot, release string) []Open {
	var out []Open
	for _, in := range s.Inputs(specDir) {
		// An image's archive is read by the host, not the hypervisor.
		if in.Option == "kernel" || in.Option == "initrd" {
			out = append(out, Open{What: in.Option, Path: in.Path, Access: AccessRead})
		}
	}
	for i, v := range s.Volumes {
		o := Open{What: fmt.Sprintf("volumes[%d].image", i), Path: v.Image, Access: AccessReadWrite, Created: v.AutoCreate == nil || *v.AutoCreate}
		if v.ReadOnly {
			o.Access = AccessRead
		}
		out = append(out, o)
		if v.Base != "" {
			out = append(out, Open{What: fmt.Sprintf("volumes[%d].base", i), Path: v.Base, Access: AccessShared})
		}
	}
	if s.HostModules {
		out = append(out, Open{What: "hostModules", Path: filepath.Join(modulesRoot, release), Access: AccessDir})
	}
	for i, sh := range s.Shares {
		if sh.Proto == "9p" {
			out = append(out, Open{What: fmt.Sprintf("shares[%d].source", i), Path: sh.Source, Access: AccessDir})
		}
	}
	return out
}
