package generate

import (
	"fmt"

	"github.com/microvm-host/microvm/internal/spec"
)

// What the hypervisor does with a file it opens (Open.Access).
const (
	AccessRead      = "read"
	AccessReadWrite = "read-write"
	AccessDir       = "dir" // list and enter: a share the hypervisor serves itself
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
// absolute against specDir), every
// volume image, and the sources of 9p shares, which the hypervisor serves
// itself (virtiofs sources are virtiofsd's, which runs as root).
func opens(s *spec.Spec, specDir string) []Open {
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
	}
	for i, sh := range s.Shares {
		if sh.Proto == "9p" {
			out = append(out, Open{What: fmt.Sprintf("shares[%d].source", i), Path: sh.Source, Access: AccessDir})
		}
	}
	return out
}
