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
// ends first (onExit says how). Its events are running when the
// hypervisor runs, then ready when the guest says so (notify only).
func (v *vmSup) watchRunning(exited <-chan struct{}, notify bool) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	hypervisor := false // the running event is out
	for {
		vm := v.d.State.Inspect(v.name)
		if vm.Running && !hypervisor {
			hypervisor = true
			state := Running
			if notify {
				state = Starting
			}
			if !v.emitUnlessEnded(exited, EventRunning, state, "the hypervisor runs", vm.Process.PID) {
				return
			}
		}
		if vm.Running && (!notify || IsReady(v.d.Runtime, v.name)) {
			why := "the hypervisor runs"
			if notify {
				why = "the guest said it is ready"
				if !v.emitUnlessEnded(exited, EventReady, Running, why, vm.Process.PID) {
					return
				}
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

// emitUnlessEnded publishes a running or ready event unless the run
// already ended or is being stopped: under the VM's lock, so it cannot
// come after the run's end or a stop's stopping event.
func (v *vmSup) emitUnlessEnded(exited <-chan struct{}, kind, state, why string, pid int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	select {
	case <-exited:
		return false
	default:
	}
	if v.stopping {
		return false
	}
	v.emit(kind, state, why, Event{PID: pid})
	return true
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
