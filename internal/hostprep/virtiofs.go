package hostprep

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/virtiofsd"
)

// fleet is what serves a running VM's shares: our own virtiofsd fleet,
// or the runner's bin/virtiofsd-run (microvm.nix's supervisord).
type fleet struct {
	own    *virtiofsd.Fleet
	helper *helperProc
}

// VirtiofsdStart starts one virtiofsd per virtiofs share of the runner and
// returns once every socket listens.
func (p *Prep) VirtiofsdStart(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if len(r.Shares) == 0 {
		return nil
	}
	f := &fleet{}
	if r.Helpers.VirtiofsdRun {
		h, err := p.startHelper(r, vmDir)
		if err != nil {
			return err
		}
		f.helper = h
		if err := waitSockets(ctx, r, vmDir, h); err != nil {
			stopHelper(h)
			return err
		}
	} else {
		if os.Geteuid() != 0 {
			return fmt.Errorf("virtiofsd %w", errNeedsRoot)
		}
		shares := make([]virtiofsd.Share, 0, len(r.Shares))
		for _, s := range r.Shares {
			shares = append(shares, virtiofsd.Share{Tag: s.Tag, Source: r.SourcePath(vmDir, s), Socket: r.SocketPath(vmDir, s)})
		}
		c := p.Virtiofsd
		c.Group = p.ID.GID
		c.VMUser = p.ID.VMUser()
		c.Log = p.log()
		// issue 14: crosvm reads the mount tag from virtiofsd (--tag).
		c.AnnounceTags = r.Meta != nil && r.Meta.Hypervisor == "crosvm"
		own, err := virtiofsd.Start(ctx, vm, shares, c)
		if err != nil {
			return err
		}
		f.own = own
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fleets == nil {
		p.fleets = map[string]*fleet{}
	}
	p.fleets[vmDir] = f
	return nil
}

// VirtiofsdStop stops the VM's fleet. Only a fleet this Prep started can
// be stopped here; the long-running `microvm host virtiofsd` verb stops
// its own when its service stops.
func (p *Prep) VirtiofsdStop(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	p.mu.Lock()
	f := p.fleets[vmDir]
	delete(p.fleets, vmDir)
	p.mu.Unlock()
	switch {
	case f == nil:
		return nil
	case f.own != nil:
		return f.own.Stop()
	default:
		if r.Helpers.VirtiofsdShutdown {
			if err := p.runHelper(ctx, r, runner.VirtiofsdShutdownScript, vmDir); err != nil {
				p.log().Warn("virtiofsd-shutdown failed; terminating virtiofsd-run", "vm", vm, "err", err)
			}
		}
		stopHelper(f.helper)
		return nil
	}
}

// helperProc is a running bin/virtiofsd-run, reaped in the background.
type helperProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it exited
	err  error
}

// startHelper starts bin/virtiofsd-run in its own process group, so it and
// its daemons can be stopped together.
func (p *Prep) startHelper(r *runner.Runner, vmDir string) (*helperProc, error) {
	path, err := p.checkHelper(r, runner.VirtiofsdRunScript)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	cmd.Dir = vmDir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	h := &helperProc{cmd: cmd, done: make(chan struct{})}
	go func() { h.err = cmd.Wait(); close(h.done) }()
	return h, nil
}

// waitSockets waits until every share's socket exists while the helper
// runs. (Its readiness signal, supervisord's READY, is for systemd.)
func waitSockets(ctx context.Context, r *runner.Runner, vmDir string, h *helperProc) error {
	deadline := time.After(virtiofsd.DefaultReadyTimeout)
	for {
		missing := ""
		for _, s := range r.Shares {
			if _, err := os.Stat(r.SocketPath(vmDir, s)); err != nil {
				missing = s.Tag
				break
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-h.done:
			return fmt.Errorf("%s exited before share %q was ready: %v", runner.VirtiofsdRunScript, missing, h.err)
		case <-deadline:
			return fmt.Errorf("%s: share %q not ready after %s", runner.VirtiofsdRunScript, missing, virtiofsd.DefaultReadyTimeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopHelper terminates the helper's process group, and kills it when it
// is still there after 5 s.
func stopHelper(h *helperProc) {
	pgid := h.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-h.done
	}
}

// VirtiofsdWait blocks until the VM's fleet stopped, or until it gave up
// on a share whose daemon kept crashing (returned as the error). A fleet
// of the runner's own virtiofsd-run ends when that process exits.
func (p *Prep) VirtiofsdWait(vmDir string) error {
	p.mu.Lock()
	f := p.fleets[vmDir]
	p.mu.Unlock()
	switch {
	case f == nil:
		return nil
	case f.own != nil:
		return f.own.Wait()
	default:
		<-f.helper.done
		return f.helper.err
	}
}
