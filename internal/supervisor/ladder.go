package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/hostconfig"
)

// Ladder is how a VM is stopped, step by step:
//
//  1. bin/microvm-shutdown asks the guest to power off (Ctrl-Alt-Del for
//     qemu and firecracker, the ACPI power button for cloud-hypervisor and
//     crosvm).
//  2. Every Resend the request is made again, with the ACPI power button
//     where the hypervisor has one: a Ctrl-Alt-Del sent while a guest
//     boots is lost (its init has not set up a handler yet), and a guest
//     may ignore it (systemd's ctrl-alt-del.target masked).
//  3. Timeout after the first request: SIGTERM.
//  4. KillAfter later: SIGKILL.
//
// Who re-sends: `microvm runner shutdown`, the bin/microvm-shutdown of
// generated runners, waits for the hypervisor itself and re-sends on its
// own (under systemd's ExecStop too); it learns the times from
// EnvStopTimeout and EnvStopResend. The ladder runs a script again only
// when its previous run returned while the hypervisor still runs: the
// scripts of hand-written runners, which send one request and return,
// are then simply repeated.
type Ladder struct {
	Timeout   time.Duration
	Resend    time.Duration
	KillAfter time.Duration
}

// DefaultLadder suits a systemd guest: it may take a minute and more to
// shut down under TCG, and a stop that arrives while it boots (40 s to
// login under TCG here) is re-sent until the guest can act on it.
var DefaultLadder = Ladder{
	Timeout:   hostconfig.DefaultStopTimeout,
	Resend:    hostconfig.DefaultStopResend,
	KillAfter: hostconfig.DefaultStopKillAfter,
}

// Environment of bin/microvm-shutdown when the ladder runs it: the
// graceful time left and the re-send interval, as Go durations ("2m30s").
// Scripts that do not know them ignore them.
const (
	EnvStopTimeout = "MICROVM_STOP_TIMEOUT"
	EnvStopResend  = "MICROVM_STOP_RESEND"
)

// LadderOf is the ladder of host.toml's stop times.
func LadderOf(t hostconfig.StopTimes) Ladder {
	return Ladder{Timeout: t.Timeout, Resend: t.Resend, KillAfter: t.KillAfter}
}

// Or fills l's zero steps from d: a request names only what it changes.
func (l Ladder) Or(d Ladder) Ladder {
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.Resend == 0 {
		l.Resend = d.Resend
	}
	if l.KillAfter == 0 {
		l.KillAfter = d.KillAfter
	}
	return l
}

// Check refuses steps that are not positive.
func (l Ladder) Check() error {
	for _, s := range []struct {
		name string
		d    time.Duration
	}{{"timeout", l.Timeout}, {"resend", l.Resend}, {"kill-after", l.KillAfter}} {
		if s.d <= 0 {
			return fmt.Errorf("stop %s %v: expected a positive duration", s.name, s.d)
		}
	}
	return nil
}

// Longest is the longest a stop may take before SIGKILL.
func (l Ladder) Longest() time.Duration { return l.Timeout + l.KillAfter }

// target is what the ladder acts on: the hypervisor process and its
// runner's shutdown script. The real one is in stop.go; tests fake it.
type target interface {
	// request runs bin/microvm-shutdown once, left is the graceful time
	// that remains; it returns when the script does.
	request(ctx context.Context, left time.Duration) error
	// gone is closed once the hypervisor has exited.
	gone() <-chan struct{}
	signal(sig syscall.Signal) error
}

// run climbs the ladder on t until the hypervisor is gone; graceful is
// false for runners without bin/microvm-shutdown, which start at
// SIGTERM (as under systemd). log gets each step.
func (l Ladder) run(ctx context.Context, t target, graceful bool, log *slog.Logger) (Outcome, error) {
	start := time.Now()
	gone := t.gone()
	if graceful {
		done, err := l.graceful(ctx, t, gone, log)
		switch {
		case err != nil:
			return Outcome{}, err
		case done:
			return Outcome{How: ShutDown, Requested: true, Graceful: true, After: time.Since(start)}, nil
		}
		log.Warn(fmt.Sprintf("did not power off within %s; sending SIGTERM", l.Timeout))
	}
	if err := t.signal(syscall.SIGTERM); err != nil {
		return Outcome{}, err
	}
	o := Outcome{Requested: true, Graceful: graceful, Timeout: l.Timeout, KillAfter: l.KillAfter}
	kill := time.NewTimer(l.KillAfter)
	defer kill.Stop()
	select {
	case <-gone:
		o.How, o.After = Terminated, time.Since(start)
		return o, nil
	case <-kill.C:
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
	log.Warn(fmt.Sprintf("still running %s after SIGTERM; sending SIGKILL", l.KillAfter))
	if err := t.signal(syscall.SIGKILL); err != nil {
		return Outcome{}, err
	}
	select {
	case <-gone:
		o.How, o.After = Killed, time.Since(start)
		return o, nil
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

// graceful runs the shutdown requests until the hypervisor is gone (done)
// or the timeout passed. A request that fails is logged and made again
// at the next re-send: the control socket may not be up yet right after
// a start.
func (l Ladder) graceful(ctx context.Context, t target, gone <-chan struct{}, log *slog.Logger) (done bool, err error) {
	start := time.Now()
	deadline := time.NewTimer(l.Timeout)
	defer deadline.Stop()
	resend := time.NewTicker(l.Resend)
	defer resend.Stop()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	finished := make(chan error, 1)
	running, attempt := false, 0
	send := func() {
		running = true
		attempt++
		left := l.Timeout - time.Since(start)
		go func() { finished <- t.request(rctx, left) }()
	}
	log.Info("asking the guest to power off", "timeout", l.Timeout, "resend", l.Resend)
	send()
	for {
		select {
		case <-gone:
			return true, nil
		case err := <-finished:
			running = false
			if err != nil {
				log.Warn("shutdown request failed", "attempt", attempt, "err", err)
			}
		case <-resend.C:
			// A script that still runs re-sends by itself (generated
			// runners) or is stuck; two at once would compete for the
			// control socket.
			if !running {
				log.Info("asking the guest again", "attempt", attempt+1)
				send()
			}
		case <-deadline.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}
