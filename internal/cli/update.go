package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/state"
)

func newUpdateCmd(e *env) *cobra.Command {
	var restart bool
	cmd := &cobra.Command{
		Use:   "update NAME... [--restart]",
		Short: "Rebuild VMs from their recorded source (-u NAME... [-R])",
		Long: `Rebuild each VM from the source recorded when it was created. The new
runner becomes current and the previous one is kept as old. A running VM
keeps running its booted runner until it is restarted (--restart), and
list shows it as stale meanwhile. Fully declarative VMs (with a toplevel
link) are managed by the host configuration and refused.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, names []string) error {
			sweep(cmd.Context(), e)
			var errs []error
			for _, name := range names {
				if err := update(cmd.Context(), e, name, restart); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&restart, "restart", "R", false, "restart VMs whose booted runner changed")
	addKVMFlag(cmd, e)
	return cmd
}

func update(ctx context.Context, e *env, name string, restart bool) error {
	needRestart, err := updateLocked(ctx, e, name, restart)
	if err != nil || !needRestart {
		return err
	}
	// Outside the VM's lock: the restart's teardown takes it.
	return restartVM(ctx, e, name)
}

// updateLocked rebuilds under the VM's lock and reports whether the VM
// must be restarted to boot the new runner.
func updateLocked(ctx context.Context, e *env, name string, restart bool) (needRestart bool, err error) {
	d, unlock, err := lockVM(ctx, e, name, "updating")
	if err != nil {
		return false, err
	}
	defer unlock()
	vm := d.Inspect(name)
	if vm.Toplevel != "" {
		return false, fmt.Errorf("updating %q: this MicroVM is managed fully declaratively and cannot be updated manually", name)
	}
	src, err := state.ReadSource(vm.Dir)
	if err != nil {
		return false, fmt.Errorf("updating %q: %w", name, err)
	}

	// The build's scratch space is a staging directory: it is removed on
	// return, and by the next command on this VM if we are killed.
	scratch, err := d.Stage(name)
	if err != nil {
		return false, err
	}
	defer scratch.Abort()
	inst, err := install(ctx, e, d, src, name, scratch.Path)
	if err != nil {
		return false, fmt.Errorf("updating %q: %w", name, err)
	}
	err = ctx.Err()
	if err == nil {
		err = swapCurrent(e, d, name, vm.Current, inst.runner)
	}
	// The store lock protects the new entry until current links it; GC
	// below needs it exclusively.
	inst.release()
	if err != nil {
		return false, fmt.Errorf("updating %q: %w", name, err)
	}
	if inst.runner != vm.Current {
		if _, err := d.GC(ctx); err != nil {
			fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
		}
	}

	switch {
	case vm.Booted == "":
		if restart {
			e.printf("%s is not running; start it with: microvm run %s\n", name, name)
		}
	case vm.Booted == inst.runner:
		e.printf("No restart of MicroVM %s required.\n", name)
	case restart:
		return true, nil
	default:
		e.printf("Restart MicroVM %s to boot the new runner.\n", name)
	}
	return false, nil
}

// swapCurrent makes runner the VM's current one and keeps the previous
// one as old.
func swapCurrent(e *env, d *state.Dir, name, previous, runner string) error {
	if runner == previous {
		e.printf("%s: already up to date.\n", name)
		return nil
	}
	// old first: if interrupted in between, current is still intact.
	if previous != "" {
		if err := d.SetLink(name, state.OldLink, previous); err != nil {
			return err
		}
	}
	if err := d.SetLink(name, state.CurrentLink, runner); err != nil {
		return err
	}
	e.printf("%s: updated to %s.\n", name, runner)
	return nil
}
