package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

func newCreateCmd(e *env) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "create NAME [--from SOURCE]",
		Short: "Create a VM from a runner directory, spec file or flake (-c NAME -f SOURCE)",
		Long: `Create the VM NAME in the state directory from SOURCE: a runner package
directory (with bin/microvm-run), a spec file, a directory holding NAME.toml,
or a flake reference (built with nix when nix is installed). The default
SOURCE is microvm.nix's, ` + source.DefaultFlake + `.

The VM is assembled aside and renamed into place when complete, so a failed
or interrupted create leaves nothing behind. An existing VM is never
replaced.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return create(cmd.Context(), e, a[0], from)
		},
	}
	cmd.Flags().StringVarP(&from, "from", "f", "", "source to build the runner from (default "+source.DefaultFlake+")")
	addKVMFlag(cmd, e)
	return cmd
}

func create(ctx context.Context, e *env, name, from string) error {
	if err := state.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	src := state.Source{Kind: state.SourceFlake, Ref: source.DefaultFlake}
	if from != "" {
		var err error
		if src, err = source.Parse(from, name); err != nil {
			return err
		}
	}
	sweep(ctx, e)
	if err := createOwned(ctx, e, name, src, state.OwnerNone); err != nil {
		return err
	}
	e.printf("Created MicroVM %s from %s.\nStart it with: microvm run %s\n", name, src, name)
	return nil
}

// createOwned creates the VM name from src with owner's record (none
// for a VM made by hand), written before the VM appears under its name.
func createOwned(ctx context.Context, e *env, name string, src state.Source, owner state.Owner) error {
	d, err := e.state()
	if err != nil {
		return err
	}
	// As root the VM directory goes to the VM group (state.VMDirMode):
	// a host configuration that does not load, or a group that does not
	// exist, is an error now rather than a directory nobody can use.
	gid := -1
	if os.Geteuid() == 0 {
		id, err := e.identity()
		if err != nil {
			return fmt.Errorf("creating VM %q: %w", name, err)
		}
		gid = id.GID
	}
	unlock, err := d.Lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	// Checked before building to fail fast; Commit checks again atomically.
	if d.Exists(name) {
		return fmt.Errorf("VM %q: %s %w", name, d.VMPath(name), state.ErrExists)
	}

	stage, err := d.Stage(name)
	if err != nil {
		return err
	}
	defer stage.Abort()
	inst, err := install(ctx, e, d, src, name, stage.Path)
	if err != nil {
		return err
	}
	defer inst.release()
	// issue 14: hypervisor version check
	if err := checkInstalled(ctx, e, inst.runner); err != nil {
		return fmt.Errorf("creating VM %q: %w", name, err)
	}
	if err := stage.SetLink(state.CurrentLink, inst.runner); err != nil {
		return err
	}
	if err := state.WriteSource(stage.Path, src); err != nil {
		return err
	}
	if owner != state.OwnerNone {
		if err := stage.SetOwner(owner); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("creating VM %q: %w", name, err)
	}
	if err := stage.Commit(gid); err != nil {
		return err
	}
	if err := addGCRoots(d, name, inst.runner); err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
	}
	return nil
}
