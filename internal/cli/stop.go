package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

func newStopCmd(e *env) *cobra.Command {
	var timeout, resend, killAfter time.Duration
	cmd := &cobra.Command{
		Use:   "stop NAME... [--timeout D] [--resend D] [--kill-after D]",
		Short: "Shut VMs down gracefully, waiting until they are gone",
		Long: `Ask each VM's guest to power off with the booted runner's
bin/microvm-shutdown (Ctrl-Alt-Del for qemu), ask again every --resend,
with the ACPI power button where the hypervisor has one (a Ctrl-Alt-Del
sent while a guest boots is lost), and wait for the hypervisor to exit,
up to --timeout after the first request; then SIGTERM, then SIGKILL
after --kill-after. The times default to host.toml's for the VM
(stopTimeout, stopResend, stopKillAfter; else 150s, 15s, 10s). Runners
without microvm-shutdown get SIGTERM at once. It says how each VM
ended: powered off or rebooted by the guest (a guest that answers by
rebooting is stopped all the same), shut down (the hypervisor did not
say which), terminated or killed. The process that ran the VM (microvm
run, the daemon's monitor) tears the host down after it exited. A VM the
daemon manages is stopped by the daemon, with these times; one systemd
manages is stopped with microvm@NAME (its ExecStop= runs
microvm-shutdown, TimeoutStopSec= bounds it, these times do not apply)
and stop returns once the helpers' teardown is done.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, names []string) error {
			// Only the times given on the command line override the
			// VM's configured ones.
			var given supervisor.Ladder
			for _, f := range []struct {
				name      string
				d, sample time.Duration
				set       *time.Duration
			}{
				{"timeout", timeout, supervisor.DefaultLadder.Timeout, &given.Timeout},
				{"resend", resend, supervisor.DefaultLadder.Resend, &given.Resend},
				{"kill-after", killAfter, supervisor.DefaultLadder.KillAfter, &given.KillAfter},
			} {
				if !cmd.Flags().Changed(f.name) {
					continue
				}
				if f.d <= 0 {
					return usageError("--%s %v: expected a positive duration like %s (see %s --help)", f.name, f.d, f.sample, cmd.CommandPath())
				}
				*f.set = f.d
			}
			for _, name := range names {
				if err := stop(cmd.Context(), e, name, given); err != nil {
					return err
				}
			}
			return nil
		},
	}
	// No flag defaults: a time not given is host.toml's for the VM.
	cmd.Flags().DurationVar(&timeout, "timeout", 0, fmt.Sprintf("how long the guest may take to power off (default: host.toml's stopTimeout, else %s)", supervisor.DefaultLadder.Timeout))
	cmd.Flags().DurationVar(&resend, "resend", 0, fmt.Sprintf("ask again this often, with the power button (default: host.toml's stopResend, else %s)", supervisor.DefaultLadder.Resend))
	cmd.Flags().DurationVar(&killAfter, "kill-after", 0, fmt.Sprintf("how long after SIGTERM before SIGKILL (default: host.toml's stopKillAfter, else %s)", supervisor.DefaultLadder.KillAfter))
	return cmd
}

func stop(ctx context.Context, e *env, name string, given supervisor.Ladder) error {
	if err := state.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	m, done, err := e.managerOf(ctx, "stopping", name)
	if err != nil {
		return err
	}
	defer done()
	if m.Kind() != manager.None {
		if m.Kind() == manager.Systemd && given != (supervisor.Ladder{}) {
			fmt.Fprintf(e.stderr, "microvm: systemd stops %s by its unit's TimeoutStopSec and the runner's defaults; --timeout, --resend and --kill-after do not apply\n", name)
		}
		how, err := m.Stop(ctx, name, given)
		switch {
		case errors.Is(err, manager.ErrNotRunning) && runsByHand(e, name):
			// A daemon answers, but the VM runs under a `microvm run` of
			// its own, which the daemon does not supervise: stop that.
		case errors.Is(err, manager.ErrNotRunning):
			e.printf("%s is not running.\n", name)
			return nil
		case err != nil:
			return err
		case how != "":
			e.printf("Stopped %s (%s).\n", name, how)
			return nil
		default:
			e.printf("Stopped %s.\n", name)
			return nil
		}
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
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("vm", name)
	// A monitored run (run --monitor; it has a console socket) records
	// why the hypervisor ended; a foreground run only prints it.
	_, err = os.Stat(state.ConsoleSocket(name))
	monitored, start := err == nil, time.Now()
	out, err := supervisor.Stop(ctx, vm.Dir, r, *vm.Process, given.Or(configuredLadder(e, name)), as, log)
	if err != nil {
		return fmt.Errorf("stopping %q: %w", name, err)
	}
	if monitored && out.How == supervisor.ShutDown {
		out = out.Refine(awaitExitRecord(ctx, name, start))
	}
	printStopped(e, name, out)
	return nil
}

// exitRecordWait bounds how long stop waits for a monitor to record the
// exit: it does so right after the hypervisor exited, before teardown.
const exitRecordWait = 5 * time.Second

// awaitExitRecord waits for the exit record of a run that ended after
// since.
func awaitExitRecord(ctx context.Context, name string, since time.Time) (supervisor.ExitRecord, bool) {
	deadline := time.Now().Add(exitRecordWait)
	for {
		if rec, ok := supervisor.ReadExit(state.RuntimeDir(), name); ok && !rec.Time.Before(since.Add(-time.Second)) {
			return rec, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return supervisor.ExitRecord{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// printStopped says how the VM's run ended.
func printStopped(e *env, name string, out supervisor.Outcome) {
	if out.How == supervisor.NotRunning {
		e.printf("%s is not running.\n", name)
		return
	}
	e.printf("Stopped %s (%s).\n", name, out)
}

// configuredLadder is how host.toml says to stop name, the defaults where
// it says nothing. A stop must work with a broken host.toml too: it
// then says so and uses the defaults.
func configuredLadder(e *env, name string) supervisor.Ladder {
	cfg, err := hostconfig.Load(e.hostConfigPath())
	if err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v; stopping %s with the default times\n", err, name)
		return supervisor.DefaultLadder
	}
	return supervisor.LadderOf(cfg.StopFor(name)).Or(supervisor.DefaultLadder)
}

// runsByHand reports whether the state directory records a running
// hypervisor of name: one a `microvm run` started, when the daemon says
// it runs nothing of that name.
func runsByHand(e *env, name string) bool {
	d, err := e.state()
	return err == nil && d.Inspect(name).Running
}
