package supervisor

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/microvm-host/microvm/internal/printable"
)

// logTransition logs one change of a VM's state with why it happened: the
// daemon's log is where an admin reads what became of a VM, and when.
// Every transition is logged once, with the same keys.
func (v *vmSup) logTransition(level slog.Level, msg, state, reason string, attrs ...any) {
	v.d.Log.Log(context.Background(), level, msg, append([]any{"vm", v.name, "state", state, "reason", reason}, attrs...)...)
}

// watchRunning logs the moment the run whose end closes exited is
// running: its hypervisor runs and, for runners that forward the guest's
// sd_notify, the guest said it is ready. It logs nothing when the run
// ends first (onExit says how).
func (v *vmSup) watchRunning(exited <-chan struct{}, notify bool) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		vm := v.d.State.Inspect(v.name)
		if vm.Running {
			if v.announce(exited, notify, vm.Process.PID) {
				why := "the hypervisor runs"
				if notify {
					why = "the guest said it is ready"
				}
				v.logTransition(slog.LevelInfo, "running", Running, why, "pid", vm.Process.PID)
				return
			}
		}
		select {
		case <-exited:
			return
		case <-v.d.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// announce publishes the running event of the run whose end closes
// exited, its hypervisor pid being pid, and for runners that notify
// (notify) the ready event once the guest said READY; each once per run,
// whether watchRunning or a start waiting for it saw it first, and
// tells Daemon.StartTimed how long each took. It
// reports whether the run is running as status says it (ready, for
// runners that notify). Under the VM's lock, and not once the run ended
// or a stop began: no running event can come after the run's end or a
// stopping event.
func (v *vmSup) announce(exited <-chan struct{}, notify bool, pid int) (running bool) {
	ready := !notify || IsReady(v.d.Runtime, v.name)
	var timed []bool // StartTimed's calls, made outside the lock
	v.mu.Lock()
	spawned := v.spawned
	select {
	case <-exited:
		v.mu.Unlock()
		return ready
	default:
	}
	if !v.stopping && v.announced == "" {
		state := Running
		if !ready {
			state = Starting
		}
		v.emit(EventRunning, state, "the hypervisor runs", Event{PID: pid})
		v.announced = EventRunning
		timed = append(timed, false)
	}
	if !v.stopping && notify && ready && v.announced != EventReady {
		v.emit(EventReady, Running, "the guest said it is ready", Event{PID: pid})
		v.announced = EventReady
		timed = append(timed, true)
	}
	v.mu.Unlock()
	for _, r := range timed {
		v.d.startTimed(v.name, r, spawned)
	}
	return ready
}

// tailText is the console's last lines for an error message, one
// indented line each and escaped: they are the guest's bytes.
func tailText(tail []string) string {
	if len(tail) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; its last output:")
	for _, l := range tail {
		b.WriteString("\n  " + printable.Text(l))
	}
	return b.String()
}

// startTimed tells Daemon.StartTimed how long the start spawned at
// spawned took; nothing for an adopted VM, whose start this daemon did
// not see.
func (d *Daemon) startTimed(name string, ready bool, spawned time.Time) {
	if d.StartTimed != nil && !spawned.IsZero() {
		d.StartTimed(name, ready, time.Since(spawned))
	}
}
