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
	v.mu.Lock()
	spawned := v.spawned
	v.mu.Unlock()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	hvRuns := false
	for {
		vm := v.d.State.Inspect(v.name)
		if vm.Running && !hvRuns {
			hvRuns = true
			v.d.startTimed(v.name, false, spawned)
		}
		if vm.Running && (!notify || IsReady(v.d.Runtime, v.name)) {
			why := "the hypervisor runs"
			if notify {
				why = "the guest said it is ready"
				v.d.startTimed(v.name, true, spawned)
			}
			v.logTransition(slog.LevelInfo, "running", Running, why, "pid", vm.Process.PID)
			return
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
