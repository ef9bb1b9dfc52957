// Package supervisor runs VMs: the stop ladder shared by `microvm stop`
// and the daemon, the restart policy, and the daemon.
package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Stop ends the VM whose hypervisor is proc, running in vmDir from the
// booted runner r, by the ladder l (see Ladder): bin/microvm-shutdown,
// re-sent, then SIGTERM, then SIGKILL. Runners without microvm-shutdown
// go straight to SIGTERM, as under systemd. It never returns before the
// process is gone unless ctx ends. log gets each step. The outcome says
// ShutDown when the guest ended it: only the run's exit record can tell
// a power-off from a reboot (Outcome.Refine).
//
// bin/microvm-shutdown runs as the credential as (nil: as the caller), the
// VM user when root runs VMs as it, as under microvm.nix's units: the
// script talks to the hypervisor's control socket in the VM directory,
// which that user owns, and root must not connect wherever a link there
// leads.
func Stop(ctx context.Context, vmDir string, r *runner.Runner, proc state.Process, l Ladder, as *syscall.Credential, log *slog.Logger) (Outcome, error) {
	if !proc.Alive() {
		return Outcome{How: NotRunning, Requested: true}, nil
	}
	if !proc.RunsIn(vmDir) {
		return Outcome{}, fmt.Errorf("the process record names pid %d, which does not run in %s; not signalling it", proc.PID, vmDir)
	}
	if err := l.Check(); err != nil {
		return Outcome{}, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &process{vmDir: vmDir, r: r, proc: proc, as: as, resend: l.Resend, exited: make(chan struct{})}
	go func() {
		if control.WaitExit(wctx, proc.PID, proc.StartTime) == nil {
			close(t.exited)
		}
	}()
	return l.run(ctx, t, r.Helpers.Shutdown, log)
}

// process is the real target of the ladder.
type process struct {
	vmDir  string
	r      *runner.Runner
	proc   state.Process
	as     *syscall.Credential
	resend time.Duration
	exited chan struct{}
}

func (p *process) gone() <-chan struct{} { return p.exited }

func (p *process) signal(sig syscall.Signal) error { return signal(p.proc, sig) }

// request runs bin/microvm-shutdown in the VM directory, with MAINPID as
// systemd would set it and the ladder's times for scripts that re-send
// by themselves (`microvm runner shutdown`).
func (p *process) request(ctx context.Context, left time.Duration) error {
	// A request made just before the deadline still gets a positive
	// time; the ladder ends it at the deadline anyway.
	return requestShutdown(ctx, p.vmDir, p.r, p.proc, p.as,
		EnvStopTimeout+"="+max(left, time.Second).String(), EnvStopResend+"="+p.resend.String())
}

// requestShutdown runs bin/microvm-shutdown in the VM directory, with
// MAINPID as systemd would set it, and env.
func requestShutdown(ctx context.Context, vmDir string, r *runner.Runner, proc state.Process, as *syscall.Credential, env ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(r.Dir, runner.ShutdownScript))
	cmd.Dir = vmDir
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	}
	cmd.Env = append(append(os.Environ(), fmt.Sprintf("MAINPID=%d", proc.PID)), env...)
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
