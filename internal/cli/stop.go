package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

func newStopCmd(e *env) *cobra.Command {
	var timeout, grace time.Duration
	cmd := &cobra.Command{
		Use:   "stop NAME... [--timeout D]",
		Short: "Shut VMs down gracefully, waiting until they are gone",
		Long: `Ask each VM's guest to power off with the booted runner's
bin/microvm-shutdown and wait for the hypervisor to exit, up to --timeout
(microvm.nix's 150 s); then SIGTERM, then SIGKILL after --kill-after.
Runners without microvm-shutdown get SIGTERM at once. The process that
ran the VM (microvm run) tears the host down after it exited. A VM the
daemon manages is stopped by the daemon; one systemd manages is stopped
with microvm@NAME (its ExecStop= runs microvm-shutdown, TimeoutStopSec=
bounds it) and stop returns once the helpers' teardown is done.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, names []string) error {
			// Stop would treat a negative timeout as none and a zero
			// --kill-after as the default: say so instead.
			for _, f := range []struct {
				name string
				d    time.Duration
			}{{"timeout", timeout}, {"kill-after", grace}} {
				if f.d <= 0 {
					return usageError("--%s %v: expected a positive duration like %s (see %s --help)", f.name, f.d, cmd.Flags().Lookup(f.name).DefValue, cmd.CommandPath())
				}
			}
			for _, name := range names {
				if err := stop(cmd.Context(), e, name, timeout, grace); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", supervisor.DefaultStopTimeout, "how long the guest may take to power off")
	cmd.Flags().DurationVar(&grace, "kill-after", supervisor.TermGrace, "how long after SIGTERM before SIGKILL")
	return cmd
}

func stop(ctx context.Context, e *env, name string, timeout, grace time.Duration) error {
	if err := state.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	m, done, err := e.managerOf(ctx, "stopping", name)
	if err != nil {
		return err
	}
	defer done()
	if m.Kind() != manager.None {
		how, err := m.Stop(ctx, name, timeout)
		switch {
		case errors.Is(err, manager.ErrNotRunning):
			e.printf("%s is not running.\n", name)
		case err != nil:
			return err
		case how != "":
			e.printf("Stopped %s (%s).\n", name, how)
		default:
			e.printf("Stopped %s.\n", name)
		}
		return nil
	}
	d, err := e.state()
	if err != nil {
		return err
	}
	// Read under the VM's lock: a run that is starting holds it until its
	// process is recorded, so a VM that just started is not "not running".
	var vm state.VM
	if d.Exists(name) {
		unlock, err := d.Lock(ctx, name)
		if err != nil {
			return fmt.Errorf("stopping %q: %w", name, err)
		}
		vm = d.Inspect(name)
		unlock()
	}
	switch {
	case !d.Exists(name):
		return fmt.Errorf("stopping %q: %w", name, state.ErrNotExist)
	case !vm.Running:
		e.printf("%s is not running.\n", name)
		return nil
	case vm.Booted == "":
		return fmt.Errorf("stopping %q: it runs (pid %d) but has no booted link", name, vm.Process.PID)
	}
	// Stop would run the booted runner's microvm-shutdown, as root too;
	// an untrusted one only gets signals.
	r := &runner.Runner{Dir: vm.Booted}
	if booted, err := checkTrusted(d, vm.Booted); err != nil {
		fmt.Fprintf(e.stderr, "microvm: %v; stopping %s with signals only\n", err, name)
	} else if r, err = runner.Load(booted); err != nil {
		return invalidRunner(booted, err)
	}
	as, err := e.shutdownCredential()
	if err != nil {
		return fmt.Errorf("stopping %q: %w", name, err)
	}
	start := time.Now()
	outcome, err := supervisor.Stop(ctx, vm.Dir, r, *vm.Process, timeout, grace, as, func(err error) {
		fmt.Fprintf(e.stderr, "microvm: %s did not power off: %v; sending SIGTERM\n", name, err)
	})
	if err != nil {
		return fmt.Errorf("stopping %q: %w", name, err)
	}
	e.printf("Stopped %s (%s after %.1f s).\n", name, outcome, time.Since(start).Seconds())
	return nil
}
