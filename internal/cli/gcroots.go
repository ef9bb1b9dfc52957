package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/microvm-host/microvm/internal/state"
)

// nixGCRoots is where microvm.nix registers its runners' GC roots. Nix
// keeps a store path alive while a root links (indirectly) to it, so
// runners linked straight from /nix/store get the same roots here.
const nixGCRoots = "/nix/var/nix/gcroots/microvm"

// addGCRoots registers NAME -> VM/current and booted-NAME -> VM/booted,
// as microvm.nix does, when the runner is in a Nix store and Nix is set up.
func addGCRoots(d *state.Dir, name, runner string) error {
	if !state.InNixStore(runner) {
		return nil
	}
	if _, err := os.Stat(filepath.Dir(nixGCRoots)); err != nil {
		return nil // no Nix on this host: nothing would collect the runner
	}
	if err := os.MkdirAll(nixGCRoots, 0o755); err != nil {
		return fmt.Errorf("registering nix gc roots: %w", err)
	}
	for _, r := range [][2]string{{name, state.CurrentLink}, {"booted-" + name, state.BootedLink}} {
		root, link := r[0], r[1]
		if err := renameio.Symlink(d.Path(name, link), filepath.Join(nixGCRoots, root)); err != nil {
			return fmt.Errorf("registering nix gc root %s: %w", root, err)
		}
	}
	return nil
}

// removeGCRoots undoes addGCRoots.
func removeGCRoots(name string) error {
	var errs []error
	for _, root := range []string{name, "booted-" + name} {
		if err := os.Remove(filepath.Join(nixGCRoots, root)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
