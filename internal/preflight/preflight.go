// Package preflight checks, before the host is prepared for a VM, that
// the VM user can open what the VM's hypervisor will open as that user:
// kernel, initrd, volume images, the sources of 9p shares. Without it a
// root-owned disk image made the hypervisor exit at once with a
// "Permission denied" that only the console log showed.
//
// The check is the kernel's own: access(2) called by a process that has
// the VM user's uid, gid and groups (AsUser; Probe when the caller is
// that user already). Nothing else is fully right: mode bits miss ACLs,
// read-only mounts and security modules, and a check by root would
// follow, as root, paths the VM user can change (SECURITY.md). Only the
// messages are root's: they name what is wrong and how to fix it
// (Explain).
//
// Only generated runners say what their hypervisor opens (build.json's
// opens, see package generate); for other runners nothing is checked.
package preflight

import (
	"fmt"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/generate"
)

// Check is one file the VM user must be able to use.
type Check struct {
	What   string `json:"what"`   // the spec option naming it, for messages
	Path   string `json:"path"`   // absolute
	Access string `json:"access"` // generate.AccessRead, AccessReadWrite or AccessDir
	// Created is set when the runner creates the file if it is missing:
	// then the VM user must be able to create it instead.
	Created bool `json:"created,omitempty"`
}

// ForRunner lists what the runner in runnerDir opens when it runs in
// vmDir, from its build record; nil for runners without one. The runner
// must be one root trusts (in a store): its record decides what is
// checked, though never what root opens.
func ForRunner(runnerDir, vmDir string) ([]Check, error) {
	b, ok, err := generate.ReadBuild(runnerDir)
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", runnerDir, err)
	}
	if !ok {
		return nil, nil
	}
	// The child that checks works in "/".
	if vmDir, err = filepath.Abs(vmDir); err != nil {
		return nil, err
	}
	checks := make([]Check, 0, len(b.Opens))
	for _, o := range b.Opens {
		switch o.Access {
		case generate.AccessRead, generate.AccessReadWrite, generate.AccessDir, generate.AccessShared:
		default:
			return nil, fmt.Errorf("runner %s: %s: %s %q: unknown access %q; expected %s, %s, %s or %s",
				runnerDir, generate.BuildFile, o.What, o.Path, o.Access, generate.AccessRead, generate.AccessReadWrite, generate.AccessDir, generate.AccessShared)
		}
		p := o.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(vmDir, p)
		}
		checks = append(checks, Check{What: o.What, Path: filepath.Clean(p), Access: o.Access, Created: o.Created})
	}
	return checks, nil
}

// need is what Access means in permission bits: r, rw or rx.
func (c Check) need() string {
	switch c.Access {
	case generate.AccessReadWrite:
		return "rw"
	case generate.AccessDir:
		return "rx"
	}
	return "r"
}
