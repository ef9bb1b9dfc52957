package source

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/trust"
)

// CheckTrusted refuses a source the VM user vm could change (nil: no
// VM user to defend against). Root builds the VM's runner from its
// source and then runs that runner's host scripts as root, so a source the
// VM user can edit — a runner directory in its reach, a spec it can
// rewrite to ask for any PCI device or a share of / — would hand it root.
func CheckTrusted(src state.Source, vm *trust.User) error {
	if vm == nil {
		return nil
	}
	var err error
	switch src.Kind {
	case state.SourceRunner:
		err = trust.CheckTree(src.Ref, *vm)
	case state.SourceSpec:
		_, err = trust.CheckFile(src.Ref, *vm)
	case state.SourceFlake:
		// A remote flake is nix's business; a local one is a directory
		// whose flake.nix says what gets built.
		if dir := localFlake(src.Ref); dir != "" {
			if _, err = trust.Resolve(dir, *vm, false); err == nil {
				_, err = trust.CheckFile(filepath.Join(dir, "flake.nix"), *vm)
				if trust.IsNotExist(err) {
					err = nil // nix reports it
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s source: %w; root does not build VMs from what the VM user can change (keep sources where only root can write)", src.Kind, err)
	}
	return nil
}

// localFlake returns the directory of a flake reference that names one on
// this host ("/etc/nixos", "path:/x", "git+file:///etc/nixos?ref=main"),
// or "".
func localFlake(ref string) string {
	for _, prefix := range []string{"git+file://", "path:", "file://"} {
		ref = strings.TrimPrefix(ref, prefix)
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	if !filepath.IsAbs(ref) {
		return ""
	}
	return ref
}
