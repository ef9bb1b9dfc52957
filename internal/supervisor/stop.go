// Package supervisor runs VMs: for now the stop ladder shared by
// `microvm stop` and, later, the daemon.
package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// DefaultStopTimeout is microvm.nix's TimeoutSec for microvm@.service.
const DefaultStopTimeout = 150 * time.Second

// TermGrace is how long a hypervisor gets after SIGTERM before SIGKILL.
const TermGrace = 10 * time.Second

// Outcome says how a VM ended.
type Outcome string

const (
	PoweredOff Outcome = "powered off" // the guest shut down when asked
	Terminated Outcome = "terminated"  // SIGTERM ended the hypervisor
	Killed     Outcome = "killed"      // only SIGKILL did
	NotRunning Outcome = "not running" // it was gone already
)

// Stop ends the VM whose hypervisor is proc, running in vmDir from the
// booted runner r: bin/microvm-shutdown (a graceful request that waits),
// then waiting for the process up to timeout, then SIGTERM, then SIGKILL
// after grace (TermGrace when 0). Runners without microvm-shutdown go straight to
// SIGTERM, as under systemd. It never returns before the process is gone
// unless ctx ends.
//
// bin/microvm-shutdown runs as the credential as (nil: as the caller), the
// VM user when root runs VMs as it, as under microvm.nix's units: the
// script talks to the hypervisor's control socket in the VM directory,
// which that user owns, and root must not connect wherever a link there
// leads.
func Stop(ctx context.Context, vmDir string, r *runner.Runner, proc state.Process, timeout, grace time.Duration, as *syscall.Credential, shutdownErr func(error)) (Outcome, error) {
	if !proc.Alive() {
		return NotRunning, nil
	}
	if !proc.RunsIn(vmDir) {
		return "", fmt.Errorf("the process record names pid %d, which does not run in %s; not signalling it", proc.PID, vmDir)
	}
	if r.Helpers.Shutdown {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		err := requestShutdown(sctx, vmDir, r, proc, as)
		if err == nil {
			// The script waits itself; wait too, for scripts that do not
			// (microvm.nix's qemu script under systemd, #578).
			err = control.WaitExit(sctx, proc.PID, proc.StartTime)
		}
		cancel()
		if err == nil {
			return PoweredOff, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if shutdownErr != nil {
			shutdownErr(err)
		}
	}
	if err := signal(proc, syscall.SIGTERM); err != nil {
		return "", err
	}
	if grace <= 0 {
		grace = TermGrace
	}
	tctx, cancel := context.WithTimeout(ctx, grace)
	err := control.WaitExit(tctx, proc.PID, proc.StartTime)
	cancel()
	if err == nil {
		return Terminated, nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err := signal(proc, syscall.SIGKILL); err != nil {
		return "", err
	}
	if err := control.WaitExit(ctx, proc.PID, proc.StartTime); err != nil {
		return "", err
	}
	return Killed, nil
}

// requestShutdown runs bin/microvm-shutdown in the VM directory, with
// MAINPID as systemd would set it.
func requestShutdown(ctx context.Context, vmDir string, r *runner.Runner, proc state.Process, as *syscall.Credential) error {
	cmd := exec.CommandContext(ctx, filepath.Join(r.Dir, runner.ShutdownScript))
	cmd.Dir = vmDir
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	}
	cmd.Env = append(os.Environ(), fmt.Sprintf("MAINPID=%d", proc.PID))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", cmd.Path, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// signal signals proc unless its pid now belongs to another process: the
// pidfd pins the process, and it is checked to be ours after opening.
func signal(proc state.Process, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(proc.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil { // no pidfds: a plain kill, after the same check
		if !proc.Alive() {
			return nil
		}
		err = syscall.Kill(proc.PID, sig)
	} else {
		defer unix.Close(fd)
		if !proc.Alive() {
			return nil
		}
		err = unix.PidfdSendSignal(fd, sig, nil, 0)
	}
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %s to %d: %w", sig, proc.PID, err)
	}
	return nil
}
