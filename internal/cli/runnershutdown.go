package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// newRunnerShutdownCmd is bin/microvm-shutdown of generated runners: it
// requests a graceful power-off, re-sends it with the ACPI power button
// every --resend, and waits until the hypervisor process is gone, up to
// --timeout, so whoever runs it (systemd's ExecStop, the daemon, a user)
// knows the guest is down when it returns. microvm.nix's qemu script
// returned at once under systemd and the VM was killed (#578).
//
// The re-sending lives here rather than in the supervisor so that it
// works wherever the script runs; the supervisor passes its times in the
// environment (supervisor.EnvStopTimeout, EnvStopResend), since the
// script passes no arguments on.
func newRunnerShutdownCmd(e *env) *cobra.Command {
	var method, socket, binary string
	var timeout, resend time.Duration
	cmd := &cobra.Command{
		Use:   "shutdown --method M --socket S [--binary B] [--timeout D] [--resend D]",
		Short: "Request a graceful power-off, re-send it, and wait for the hypervisor to exit",
		Long: `Ask the guest to power off, ask again with the ACPI power button (where
the hypervisor has one) every --resend, and wait until the hypervisor
exited, up to --timeout. The defaults come from $` + supervisor.EnvStopTimeout + ` and
$` + supervisor.EnvStopResend + ` when set (Go durations), else from the flags.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range []struct {
				flag, env string
				d         *time.Duration
			}{{"timeout", supervisor.EnvStopTimeout, &timeout}, {"resend", supervisor.EnvStopResend, &resend}} {
				if s := os.Getenv(f.env); s != "" && !cmd.Flags().Changed(f.flag) {
					d, err := time.ParseDuration(s)
					if err != nil || d <= 0 {
						return usageError("$%s %q: expected a positive duration like %q", f.env, s, cmd.Flags().Lookup(f.flag).DefValue)
					}
					*f.d = d
				}
				if *f.d <= 0 {
					return usageError("--%s %v: expected a positive duration", f.flag, *f.d)
				}
			}
			warn := func(err error) { fmt.Fprintf(e.stderr, "microvm: %v; asking again in %s\n", err, resend) }
			return shutdownAndWait(cmd.Context(), method, socket, binary, timeout, resend, warn)
		},
	}
	cmd.Flags().StringVar(&method, "method", "", "qmp, cloud-hypervisor, firecracker or crosvm")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket, relative to the VM directory")
	cmd.Flags().StringVar(&binary, "binary", "", "the hypervisor binary, for methods that run it (default: its name on PATH)")
	cmd.Flags().DurationVar(&timeout, "timeout", supervisor.DefaultLadder.Timeout, "how long to wait for the guest to power off")
	cmd.Flags().DurationVar(&resend, "resend", supervisor.DefaultLadder.Resend, "how often to ask again, with the power button")
	return cmd
}

func shutdownAndWait(ctx context.Context, method, socket, binary string, timeout, resend time.Duration, warn func(error)) error {
	// What to wait on is found before asking: a fast guest may be gone
	// by the time the request returns.
	proc, err := hypervisorProcess()
	if err != nil {
		return err
	}
	var wait func(context.Context) error
	switch {
	case proc != nil:
		wait = func(ctx context.Context) error { return control.WaitExit(ctx, proc.PID, proc.StartTime) }
	case method == hypervisor.ShutdownQMP || method == hypervisor.ShutdownFirecracker:
		// Both close their socket only when the process exits.
		wait = func(ctx context.Context) error { return control.WaitSocketClosed(ctx, socket) }
	default:
		// Ask once, as before re-sending existed, and say why not more.
		if err := control.RequestShutdown(ctx, method, socket, binary); err != nil {
			return err
		}
		return fmt.Errorf("shutdown requested, but cannot tell when the hypervisor exits: no $MAINPID and no process record in %s", mustGetwd())
	}
	if err := control.PowerOff(ctx, method, socket, binary, wait, resend, timeout, warn); err != nil {
		return fmt.Errorf("waiting for the hypervisor to exit after the shutdown request: %w", err)
	}
	return nil
}

// hypervisorProcess finds the hypervisor: systemd passes $MAINPID to
// ExecStop; microvm's own run and daemon record it in the VM directory,
// which is the working directory here.
func hypervisorProcess() (*state.Process, error) {
	if s := os.Getenv("MAINPID"); s != "" {
		pid, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("$MAINPID %q: %w", s, err)
		}
		p, err := state.ProcessOf(pid)
		if err != nil {
			return nil, nil // already gone
		}
		return &p, nil
	}
	return state.ReadProcess(".")
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}

func newRunnerBalloonCmd(e *env) *cobra.Command {
	var method, socket, binary string
	cmd := &cobra.Command{
		Use:   "balloon --method M --socket S [--binary B] SIZE_MB",
		Short: "Resize the memory balloon (what SIZE means depends on the hypervisor)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			size, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil {
				return usageError("size %q: expected a number of MiB", a[0])
			}
			got, err := control.Balloon(cmd.Context(), method, socket, binary, size)
			if err != nil {
				return err
			}
			e.printf("%d\n", got)
			return nil
		},
	}
	cmd.Flags().StringVar(&method, "method", "", "qmp, cloud-hypervisor, crosvm or kvmtool")
	cmd.Flags().StringVar(&socket, "socket", "", "control socket, relative to the VM directory")
	cmd.Flags().StringVar(&binary, "binary", "", "the hypervisor binary, for methods that run it (default: its name on PATH)")
	return cmd
}
