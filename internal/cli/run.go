package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostprep"
	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/metrics"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// HostPrep prepares the host for a runner before it starts and undoes that
// after it stopped: taps, macvtaps, VFIO devices, virtiofsd. Setup gets
// the runner to start (current), Teardown the one that ran (booted), as
// microvm.nix's units do.
type HostPrep interface {
	Setup(ctx context.Context, vmDir string, r *runner.Runner) error
	Teardown(ctx context.Context, vmDir string, r *runner.Runner) error
}

func newRunCmd(e *env) *cobra.Command {
	var monitored bool
	cmd := &cobra.Command{
		Use:   "run NAME [--monitor]",
		Short: "Run a VM in the foreground (-r NAME)",
		Long: `Run the VM's current runner in the foreground, in the VM's directory,
until the hypervisor exits; microvm exits with its status. Before, the host
is prepared from the runner (taps, macvtaps, VFIO devices, one virtiofsd
per share); after, that is undone, also after Ctrl-C. As root the
hypervisor runs as the VM user and group of the host configuration
(default microvm:kvm) with NOFILE 1048576 and MEMLOCK unlimited; anyone
else runs it as themselves, without the root-only preparation. booted
points at the running runner meanwhile. SIGINT and SIGTERM are passed on
to the hypervisor, which decides how to stop.

With --monitor, the hypervisor's console is not this terminal but a pty:
its output goes to the VM's log (microvm logs NAME) and anyone may attach
to it (microvm console NAME) and detach again with Ctrl-].`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			prep, err := e.prep()
			if err != nil {
				return err
			}
			// In the foreground nobody else may serve the VM's network.
			prep.ServeDHCP = !monitored
			var mon *monitor
			if monitored {
				d, err := e.state()
				if err != nil {
					return err
				}
				mon = &monitor{log: d.LogPath(a[0]), socket: state.ConsoleSocket(a[0]), ensure: d.EnsureLogs}
			}
			return run(cmd.Context(), e, a[0], prep, mon)
		},
	}
	cmd.Flags().BoolVar(&monitored, "monitor", false, "console to a log and an attachable socket instead of this terminal")
	return cmd
}

func run(ctx context.Context, e *env, name string, prep *hostprep.Prep, mon *monitor) error {
	if err := state.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	sweep(ctx, e)
	d, err := e.state()
	if err != nil {
		return err
	}
	r, unlock, err := boot(ctx, e, d, name, prep, prep.ID)
	if err != nil {
		if mon != nil {
			recordExit(e, name, mon, err, control.Ending{}, nil)
		}
		return err
	}
	vmDir := d.VMPath(name)
	started := time.Now()
	end, runErr := runHypervisor(e, vmDir, r, prep.ID, mon, unlock)
	reportExit(e, name, mon, runErr, end, time.Since(started))
	// Teardown must happen even if our caller gave up (Ctrl-C): use a
	// fresh context.
	if err := shutdownBooted(context.WithoutCancel(ctx), d, name, r, prep); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// boot marks the VM booted and prepares the host, under the VM's lock,
// which it returns still held: the caller releases it once the process
// record is written, so that nobody who takes the lock (remove, stop)
// sees a booted VM without its process. As root it first makes sure the
// VM directory protects root's records (state.Dir.Secure), then relies
// only on records root wrote.
func boot(ctx context.Context, e *env, d *state.Dir, name string, prep HostPrep, id hostprep.Identity) (_ *runner.Runner, unlock func(), err error) {
	unlock, err = d.Lock(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	r, err := bootLocked(ctx, e, d, name, prep, id)
	return r, unlock, err
}

func bootLocked(ctx context.Context, e *env, d *state.Dir, name string, prep HostPrep, id hostprep.Identity) (*runner.Runner, error) {
	if id.Switch && d.Exists(name) {
		if err := d.Secure(name, id.GID); err != nil {
			return nil, err
		}
	}
	vm := d.Inspect(name)
	for _, why := range vm.Ignored {
		fmt.Fprintf(e.stderr, "microvm: warning: ignoring %s\n", why)
	}
	switch {
	case !d.Exists(name):
		return nil, fmt.Errorf("running %q: %w", name, state.ErrNotExist)
	case vm.Running:
		return nil, fmt.Errorf("running %q: already running (pid %d)", name, vm.Process.PID)
	case vm.Current == "":
		return nil, fmt.Errorf("running %q: no current runner", name)
	}
	if vm.Booted != "" {
		// Left behind by a crash: finish its teardown before setting up
		// again, with the runner that was booted.
		if booted, err := checkTrusted(d, vm.Booted); err != nil {
			fmt.Fprintf(e.stderr, "microvm: not tearing down after an earlier crash: %v\n", err)
		} else if old, err := runner.Load(booted); err == nil {
			if err := prep.Teardown(ctx, vm.Dir, old); err != nil {
				return nil, fmt.Errorf("running %q: tearing down after an earlier crash: %w", name, err)
			}
		}
	}
	current, err := checkTrusted(d, vm.Current)
	if err != nil {
		return nil, fmt.Errorf("running %q: %w", name, err)
	}
	r, err := runner.Load(current)
	if err != nil {
		return nil, invalidRunner(current, err)
	}
	if err := r.CheckPaths(vm.Dir); err != nil {
		return nil, fmt.Errorf("running %q: %w", name, err)
	}
	// issue 14: hypervisor version check
	if err := checkInstalled(ctx, e, current); err != nil {
		return nil, fmt.Errorf("running %q: %w", name, err)
	}
	// issue 9: what the hypervisor opens as the VM user
	if err := checkAccess(ctx, e, vm.Dir, current, id); err != nil {
		return nil, fmt.Errorf("running %q: %w", name, err)
	}
	// booted exists before the first setup step, so a crash at any later
	// point leaves enough behind for teardown.
	if err := d.SetLink(name, state.BootedLink, vm.Current); err != nil {
		return nil, err
	}
	if err := prep.Setup(ctx, vm.Dir, r); err != nil {
		tdErr := prep.Teardown(context.WithoutCancel(ctx), vm.Dir, r)
		d.RemoveLink(name, state.BootedLink)
		return nil, errors.Join(fmt.Errorf("preparing host for %q: %w", name, err), tdErr)
	}
	return r, nil
}

// runHypervisor runs bin/microvm-run of the booted runner until it exits,
// and says why it ended where the hypervisor tells (watchEnding).
// It execs the booted path, not current: an update meanwhile must not
// change what is running. It calls unlock (the VM's lock, see boot) once
// the process record is written, or when starting failed.
func runHypervisor(e *env, vmDir string, r *runner.Runner, id hostprep.Identity, mon *monitor, unlock func()) (control.Ending, error) {
	unlock = sync.OnceFunc(unlock)
	defer unlock()
	cmd := exec.Command(filepath.Join(r.Dir, runner.RunScript))
	cmd.Dir = vmDir
	if id.Switch {
		if err := asVMUser(cmd, id, func(f string, a ...any) { fmt.Fprintf(e.stderr, f, a...) }); err != nil {
			return control.Ending{}, err
		}
	}
	runScript := cmd.Path
	release, abort, err := holdUntilRecorded(cmd)
	if err != nil {
		return control.Ending{}, err
	}
	defer abort()
	// Signals: on a terminal, Ctrl-C reaches the hypervisor directly (same
	// process group); we only keep ourselves alive to tear down, and pass
	// on signals sent to us alone (kill, a service manager).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if mon != nil && r.Meta != nil && r.Meta.SupportsNotifySocket {
		stopNotify, err := listenNotify(cmd, state.RuntimeDir(), filepath.Base(vmDir), id)
		if err != nil {
			return control.Ending{}, err
		}
		defer stopNotify()
	}
	if mon != nil {
		stopMonitor, err := mon.start(cmd)
		if err != nil {
			return control.Ending{}, err
		}
		defer stopMonitor()
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
		if err := cmd.Start(); err != nil {
			return control.Ending{}, fmt.Errorf("starting %s: %w", runScript, err)
		}
	}
	if p, err := state.ProcessOf(cmd.Process.Pid); err == nil {
		state.WriteProcess(vmDir, p)
	}
	release()
	unlock()
	// Under the daemon, the monitor answers the sampler's questions to
	// qemu (see metrics.StatsSocket).
	stats := ""
	if mon != nil {
		stats = metrics.StatsSocket(state.RuntimeDir(), filepath.Base(vmDir))
	}
	watch := watchEnding(vmDir, r, id.UID, stats, func(f string, a ...any) { fmt.Fprintf(e.stderr, f, a...) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					err = exitError{code: 128 + int(ws.Signal())}
				} else {
					err = exitError{code: ee.ExitCode()}
				}
			}
			return watch.ending(ExitCode(err)), err
		}
	}
}

// shutdownBooted tears the host down with the booted runner and forgets
// that the VM runs; booted goes last (microvm.nix #469 removed it first
// and left taps behind).
func shutdownBooted(ctx context.Context, d *state.Dir, name string, r *runner.Runner, prep HostPrep) error {
	unlock, err := d.Lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	tdErr := prep.Teardown(ctx, d.VMPath(name), r)
	rmErr := state.RemoveProcess(d.VMPath(name))
	if tdErr != nil {
		// booted stays, so the teardown can be retried from it.
		return errors.Join(fmt.Errorf("tearing down host for %q: %w", name, tdErr), rmErr)
	}
	return errors.Join(rmErr, d.RemoveLink(name, state.BootedLink))
}

// checkTrusted resolves runnerPath and refuses, for root, runners outside
// the state store and the Nix store: root prepares the host from them
// (see state.Dir.Trusted). Use the returned path from then on.
func checkTrusted(d *state.Dir, runnerPath string) (string, error) {
	real, ok := d.Trusted(runnerPath)
	if os.Geteuid() != 0 || ok {
		if real == "" {
			return runnerPath, nil
		}
		return real, nil
	}
	return "", fmt.Errorf("runner %s is outside the state store and /nix/store; root does not prepare the host from it (create or update the VM to import it)", runnerPath)
}
