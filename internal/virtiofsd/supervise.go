package virtiofsd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/microvm-host/microvm/internal/trust"
)

// readyPoll is how often readiness is re-checked.
const readyPoll = 20 * time.Millisecond

// waitReady waits until every daemon in ds listens, then gives its socket
// to the VM's group. It fails as soon as one exits, or after ReadyTimeout
// naming every share that is not ready.
func (f *Fleet) waitReady(ctx context.Context, ds []*daemon) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.ReadyTimeout)
	defer cancel()
	pending := map[*daemon]bool{}
	for _, d := range ds {
		pending[d] = true
	}
	for {
		table, err := readListeners()
		if err != nil {
			return err
		}
		for _, d := range ds {
			if !pending[d] {
				continue
			}
			p := d.current()
			if p.hasExited() {
				return fmt.Errorf("share %q: virtiofsd exited before listening: %w", d.share.Tag, p.exitError())
			}
			if !listening(table, d.share.Socket, p.pid()) {
				continue
			}
			if err := f.applyGroup(d.share.Socket); err != nil {
				return fmt.Errorf("share %q: %w", d.share.Tag, err)
			}
			p.ready.Store(true)
			delete(pending, d)
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var tags []string
			for _, d := range ds {
				if pending[d] {
					tags = append(tags, fmt.Sprintf("%q (%s)", d.share.Tag, d.share.Socket))
				}
			}
			return fmt.Errorf("virtiofsd not listening for share %s after %v: %w",
				strings.Join(tags, ", "), f.cfg.ReadyTimeout, context.Cause(ctx))
		case <-time.After(readyPoll):
		}
	}
}

// applyGroup lets the VM's group connect. It is done here rather than
// with --socket-group, which takes a group name in both flavors.
//
// Root's daemon made the socket in a directory the VM user can write, so
// with a VM user it is done through a descriptor of the socket itself
// (trust.ChownSocket): by name, a link swapped in meanwhile would have
// root chown and chmod whatever it points at.
func (f *Fleet) applyGroup(socket string) error {
	if f.cfg.Group < 0 {
		return nil
	}
	if f.cfg.VMUser != nil {
		return trust.ChownSocket(socket, *f.cfg.VMUser, -1, f.cfg.Group, 0o770)
	}
	if err := os.Chown(socket, -1, f.cfg.Group); err != nil {
		return fmt.Errorf("setting socket group: %w", err)
	}
	if err := os.Chmod(socket, 0o770); err != nil {
		return fmt.Errorf("setting socket mode: %w", err)
	}
	return nil
}

// supervise restarts d's daemon whenever it exits, until Stop. Both
// flavors exit with status 0 when their one VM connection ends, so a
// restart is also what makes the share ready for the VM's next boot.
// Failures (a non-zero status, a signal, not listening in time) back off
// exponentially, unless the run lasted HealthyRun; after
// MaxCrashes of them in a row the share is given up.
func (f *Fleet) supervise(d *daemon) {
	defer f.wg.Done()
	crashes := 0
	for {
		p := d.current()
		select {
		case <-p.exited:
		case <-f.ctx.Done():
			return
		}
		ran := time.Since(p.started).Round(time.Millisecond)
		delay := f.cfg.RestartDelay
		if p.err == nil {
			// The ordinary end: its VM disconnected. (Possibly before
			// waitReady saw it listen, so p.ready is not required.)
			crashes = 0
			d.log.Info("virtiofsd exited after its client left; restarting", "ran", ran, "restart_in", delay)
		} else {
			if ran >= HealthyRun {
				crashes = 0
			}
			crashes++
			if crashes >= MaxCrashes {
				err := fmt.Errorf("share %q: virtiofsd failed %d times in a row, giving up: %w", d.share.Tag, MaxCrashes, p.exitError())
				d.log.Error("virtiofsd crash loop", "err", err)
				f.giveUp(err)
				return
			}
			delay = backoff(delay, crashes)
			d.log.Warn("virtiofsd failed; restarting", "err", p.exitError(), "ran", ran, "restart_in", delay)
		}
		select {
		case <-time.After(delay):
		case <-f.ctx.Done():
			return
		}
		if !f.restart(d) {
			return
		}
		if err := f.waitReady(f.ctx, []*daemon{d}); err != nil {
			if errors.Is(err, context.Canceled) {
				return // Stop kills it
			}
			// An exit is reported by the next round; anything else
			// (a timeout) ends this run, which then counts as a crash.
			if p := d.current(); !p.hasExited() {
				d.log.Error("restarted virtiofsd not ready", "err", err)
				p.terminate(f.cfg.StopTimeout)
			}
			continue
		}
		d.log.Info("virtiofsd restarted", "pid", d.current().pid())
	}
}

// restart spawns a new run of d unless the fleet is stopping. It runs
// under d.mu so that Stop, which cancels first and then reads d.proc,
// either sees the new run or prevents it.
func (f *Fleet) restart(d *daemon) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.ctx.Err() != nil {
		return false
	}
	if err := removeSocket(d.share.Socket); err != nil {
		d.log.Warn("removing stale socket", "err", err)
	}
	d.proc = spawn(d.args, d.log)
	return true
}

// backoff is the wait before restart number n (1-based): base doubling up
// to MaxRestartDelay.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < MaxRestartDelay; i++ {
		d *= 2
	}
	return min(d, MaxRestartDelay)
}
