package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"

	"github.com/microvm-host/microvm/internal/trust"
)

// Owner names the tool that created a VM and therefore manages its whole
// life: only that tool replaces or removes the VM on its own initiative,
// and every other one leaves it alone. A VM without an owner record
// (OwnerNone) was created by hand (microvm create, or microvm.nix) and is
// the user's: no tool touches it.
//
// The record is STATE/NAME/owner (OwnerFile), one word and a newline,
// written by root and read through package trust like the other records,
// so the VM user can neither claim a hand-made VM for a tool (which would
// let that tool remove it) nor disown a tool's VM: a record it planted is
// ignored and the VM counts as made by hand.
//
// A tool that creates VMs writes its owner in the staged directory
// (Staging.SetOwner), before Commit, so the VM never exists under its
// name without its owner, even if the tool is killed. A tool must check
// ReadOwner == its own Owner under the VM's lock before it changes or
// removes a VM, and must not act on VMs of another owner or of none.
type Owner string

// Owners known today. Other tools pick a new lowercase word (CheckOwner);
// readers treat an owner they do not know as "someone else's".
const (
	OwnerNone    Owner = ""        // created by hand; no record
	OwnerApply   Owner = "apply"   // microvm apply, from host.toml's [vm.NAME]
	OwnerKubelet Owner = "kubelet" // the Kubernetes provider, for a pod
)

// maxOwnerLen bounds an owner word.
const maxOwnerLen = 32

// CheckOwner reports whether o can be recorded: 1 to 32 lowercase
// letters, digits or '-', starting with a letter.
func CheckOwner(o Owner) error {
	if o == "" || len(o) > maxOwnerLen {
		return fmt.Errorf("invalid VM owner %q: expected 1 to %d bytes", string(o), maxOwnerLen)
	}
	for i := 0; i < len(o); i++ {
		c := o[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return fmt.Errorf("invalid VM owner %q: expected lowercase letters, digits or '-', starting with a letter", string(o))
		}
	}
	return nil
}

// SetOwner records o as the owner of the existing VM name, replacing any
// earlier record atomically; OwnerNone removes the record (the VM becomes
// the user's). The caller must hold the VM's lock.
func (d *Dir) SetOwner(name string, o Owner) error { return writeOwner(d.VMPath(name), o) }

// SetOwner records o in the staged directory; see Owner.
func (s *Staging) SetOwner(o Owner) error { return writeOwner(s.Path, o) }

func writeOwner(vmDir string, o Owner) error {
	var err error
	if o == OwnerNone {
		err = removeIfExists(filepath.Join(vmDir, OwnerFile))
	} else if err = CheckOwner(o); err == nil {
		err = renameio.WriteFile(filepath.Join(vmDir, OwnerFile), []byte(string(o)+"\n"), 0o644)
	}
	if err != nil {
		return fmt.Errorf("recording owner of %q: %w", filepath.Base(vmDir), err)
	}
	return nil
}

// ReadOwner returns the owner recorded for the VM name, OwnerNone when
// there is no record. A record root did not write is an error matching
// trust.ErrUntrusted; callers deciding whether they may act treat it as
// OwnerNone (hands off), as Inspect does.
func (d *Dir) ReadOwner(name string) (Owner, error) { return readOwner(d.VMPath(name)) }

func readOwner(vmDir string) (Owner, error) {
	p := filepath.Join(vmDir, OwnerFile)
	b, err := trust.ReadFile(p)
	if trust.IsNotExist(err) {
		if _, serr := os.Lstat(vmDir); errors.Is(serr, os.ErrNotExist) {
			return OwnerNone, fmt.Errorf("VM %q: %w", filepath.Base(vmDir), ErrNotExist)
		}
		return OwnerNone, nil
	}
	if err != nil {
		return OwnerNone, err
	}
	o := Owner(strings.TrimSuffix(string(b), "\n"))
	if err := CheckOwner(o); err != nil {
		return OwnerNone, fmt.Errorf("%s: %w", p, err)
	}
	return o, nil
}
