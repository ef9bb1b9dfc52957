package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

func newRemoveCmd(e *env) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove NAME...",
		Short: "Remove stopped VMs and the runners only they used",
		Long: `Remove the VM directories (links, source record, volumes and sockets kept
there) and garbage-collect runners no other VM references. A VM that is
booted is refused: stop it first. --force removes a VM whose booted link
was left behind by a crash (no process runs), never a running one.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, names []string) error {
			sweep(cmd.Context(), e)
			for _, name := range names {
				if err := remove(cmd.Context(), e, name, force); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove even if a stale booted link exists (never a running VM)")
	return cmd
}

func remove(ctx context.Context, e *env, name string, force bool) error {
	removed, err := removeOwned(ctx, e, name, force, nil)
	if err != nil {
		return err
	}
	e.printf("Removed MicroVM %s", name)
	if removed > 0 {
		e.printf(" and %d unused runner(s)", removed)
	}
	e.printf(".\n")
	return nil
}

// removeOwned removes name, and says how many unused runners went with
// it. With owner set, a VM not recorded as owner's is refused, checked
// under the VM's lock (see state.Owner).
func removeOwned(ctx context.Context, e *env, name string, force bool, owner *state.Owner) (int, error) {
	d, unlock, err := lockVM(ctx, e, name, "removing")
	if err != nil {
		return 0, err
	}
	defer unlock()
	if owner != nil {
		if got, err := d.ReadOwner(name); err != nil || got != *owner {
			return 0, fmt.Errorf("removing %q: it is not %q's (owner %q, %v)", name, string(*owner), string(got), err)
		}
	}
	vm := d.Inspect(name)
	switch {
	case vm.Running:
		return 0, fmt.Errorf("removing %q: it is running (pid %d); stop it first", name, vm.Process.PID)
	case vm.Booted != "" && !force:
		return 0, fmt.Errorf("removing %q: it is booted (booted link exists) but no process of it runs; if it crashed, pass --force", name)
	}
	if err := d.Remove(name); err != nil {
		return 0, err
	}
	if err := supervisor.RemoveExit(state.RuntimeDir(), name); err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
	}
	if err := removeGCRoots(name); err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
	}
	removed, err := d.GC(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
	}
	return len(removed), nil
}
