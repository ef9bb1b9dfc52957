package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// StartTimeout bounds how long StartVM waits for the hypervisor to run.
const StartTimeout = 150 * time.Second

// vmSup supervises one VM: its monitor process (`microvm run --monitor`,
// which prepares the host, runs the hypervisor on a pty and tears down),
// and the restart policy when it exits.
type vmSup struct {
	d    *Daemon
	name string

	mu        sync.Mutex
	wanted    bool // keep it running
	failed    bool
	stopping  bool
	restarts  int
	lastExit  string   // how the last run ended, in words (status)
	lastTail  []string // the console's last lines when the last run failed
	last      *Outcome // how the last run ended, for status --json
	since     time.Time
	monitor   *state.Process
	exited    chan struct{} // closed when the current monitor ended
	started   time.Time
	timer     *time.Timer // pending restart
	nextStart time.Time
	tracker   Tracker
	notify    bool      // running means the guest said READY
	spawned   time.Time // when this daemon spawned the monitor; zero for an adopted one
	announced string    // the last of running, ready published for this run
	// exitRec is the exit record of the run that ended last, read by
	// onExit before it closes exited; a stop refines its outcome with it.
	exitRec ExitRecord
	exitOK  bool
}

func newVMSup(d *Daemon, name string) *vmSup {
	return &vmSup{d: d, name: name, since: time.Now(), tracker: Tracker{P: d.Policy}}
}

// start makes the VM wanted and, unless it runs, spawns its monitor; it
// waits until the hypervisor runs or the monitor gave up.
func (v *vmSup) start() error {
	v.mu.Lock()
	v.wanted, v.failed = true, false
	v.tracker.Reset()
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
	if v.monitor == nil {
		if err := v.spawnLocked("start requested"); err != nil {
			v.mu.Unlock()
			return err
		}
	}
	exited := v.exited
	v.mu.Unlock()

	deadline := time.After(StartTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	notify := v.notifies()
	for {
		if vm := v.d.State.Inspect(v.name); vm.Running && v.announce(exited, notify, vm.Process.PID) {
			return nil
		}
		select {
		case <-exited:
			v.mu.Lock()
			defer v.mu.Unlock()
			why := v.lastExit
			if v.last != nil && v.last.How == NotStarted {
				why = v.last.Reason // "did not start" is what the error says already
			}
			return fmt.Errorf("starting %q: %s%s", v.name, why, tailText(v.lastTail))
		case <-deadline:
			return fmt.Errorf("starting %q: not running after %s", v.name, StartTimeout)
		case <-v.d.ctx.Done():
			return v.d.ctx.Err()
		case <-tick.C:
		}
	}
}

// notifies reports whether the VM's runner forwards the guest's sd_notify
// READY: then the VM is running only once the guest said so.
func (v *vmSup) notifies() bool {
	cur, err := v.d.State.ReadLink(v.name, state.CurrentLink)
	if err != nil || cur == "" {
		return false
	}
	r, err := runner.Load(cur)
	return err == nil && r.Meta != nil && r.Meta.SupportsNotifySocket
}

// spawnLocked starts the monitor in its own session, so that it and the
// VM outlive the daemon; its own messages go to a log of its own. why is
// the reason the daemon logs.
func (v *vmSup) spawnLocked(why string) error {
	d := v.d
	if err := d.State.EnsureLogs(); err != nil {
		return err
	}
	out, err := os.OpenFile(d.State.LogPath(v.name+".monitor"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(d.Microvm, "--state-dir", d.State.Root, "run", "--monitor", v.name)
	cmd.Env = d.Env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	os.Remove(ExitFile(d.Runtime, v.name))
	v.spawned = time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the monitor of %q: %w", v.name, err)
	}
	p, err := state.ProcessOf(cmd.Process.Pid)
	if err == nil {
		err = WriteMonitor(d.Runtime, v.name, p)
	}
	if err != nil {
		d.Log.Warn("recording monitor", "vm", v.name, "err", err)
	}
	v.watchLocked(p, func() { cmd.Wait() })
	v.logTransition(slog.LevelInfo, "started", Starting, why, "monitor", cmd.Process.Pid)
	v.emit(EventStarting, Starting, why, Event{})
	go v.watchRunning(v.exited, v.notify)
	return nil
}

// adopt takes over a monitor a previous daemon started.
func (v *vmSup) adopt(p state.Process) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.wanted, v.spawned = true, time.Time{}
	v.watchLocked(p, func() { control.WaitExit(v.d.ctx, p.PID, p.StartTime) })
	const why = "its monitor outlived the previous daemon"
	if vm := v.d.State.Inspect(v.name); vm.Running && (!v.notify || IsReady(v.d.Runtime, v.name)) {
		v.logTransition(slog.LevelInfo, "adopted", Running, why, "monitor", p.PID, "pid", vm.Process.PID)
		v.emit(EventAdopted, Running, why, Event{PID: vm.Process.PID})
		v.announced = EventReady // adopted says it all
		return
	}
	v.logTransition(slog.LevelInfo, "adopted", Starting, why, "monitor", p.PID)
	v.emit(EventAdopted, Starting, why, Event{})
	go v.watchRunning(v.exited, v.notify)
}

// watchLocked records p as the monitor and handles its end: wait blocks
// until it exited (cmd.Wait for our children, a pidfd for adopted ones).
func (v *vmSup) watchLocked(p state.Process, wait func()) {
	v.monitor, v.started, v.since = &p, time.Now(), time.Now()
	v.notify, v.announced = v.notifies(), ""
	exited := make(chan struct{})
	v.exited = exited
	go func() {
		wait()
		if v.d.ctx.Err() != nil {
			return // the daemon is going away; the VM is not
		}
		v.onExit(exited)
	}()
}

func (v *vmSup) onExit(exited chan struct{}) {
	rec, ok := ReadExit(v.d.Runtime, v.name)
	v.mu.Lock()
	defer v.mu.Unlock()
	RemoveMonitor(v.d.Runtime, v.name)
	v.monitor, v.since = nil, time.Now()
	v.exitRec, v.exitOK = rec, ok
	close(exited)
	v.lastTail = rec.Tail
	out := ExitOutcome(rec, ok)
	v.setLastLocked(out)
	if !ok {
		v.lastExit += " (its messages: " + v.d.State.LogPath(v.name+".monitor") + ")"
	}
	level := slog.LevelInfo
	if !out.Clean() && out.How != Rebooted {
		level = slog.LevelWarn
	}
	attrs := []any{"how", out.How, "ran", time.Since(v.started).Round(time.Millisecond)}
	if ok {
		attrs = append(attrs, "code", rec.Code)
	}
	if out.Process != nil {
		attrs = append(attrs, "process", *out.Process)
	}
	if out.Reason != "" && out.How != NotStarted {
		attrs = append(attrs, "hypervisor_said", out.Reason)
	}
	if len(v.lastTail) > 0 {
		attrs = append(attrs, "tail", v.lastTail)
	}
	v.logTransition(level, "exited", Stopped, v.lastExit, attrs...)
	if v.stopping {
		return // stop says how it ended (Outcome.Refine)
	}
	ended := exitEvent(out)
	v.emit(ended, Stopped, v.lastExit, Event{Outcome: v.last})
	if !v.wanted {
		v.logTransition(slog.LevelInfo, "stopped", Stopped, "not wanted running")
		if ended != EventStopped {
			v.emit(EventStopped, Stopped, "not wanted running", Event{})
		}
		return
	}
	dec := v.tracker.Next(Exit{Outcome: out, Started: v.started, Ended: time.Now()})
	switch {
	case dec.Failed:
		v.wanted, v.failed = false, true
		v.lastExit = dec.Reason
		v.logTransition(slog.LevelWarn, "failed", Failed, dec.Reason)
		v.emit(EventFailed, Failed, dec.Reason, Event{})
	case dec.Restart:
		v.nextStart = time.Now().Add(dec.After)
		v.timer = time.AfterFunc(dec.After, v.restart)
		v.logTransition(slog.LevelInfo, "restart scheduled", Starting, dec.Reason, "after", dec.After)
		v.emit(EventRestarting, Starting, dec.Reason, Event{Delay: dec.After.String()})
	default:
		v.wanted = false
		v.logTransition(slog.LevelInfo, "stopped", Stopped, dec.Reason)
		if ended != EventStopped {
			v.emit(EventStopped, Stopped, dec.Reason, Event{})
		}
	}
}

// setLastLocked records how the last run ended.
func (v *vmSup) setLastLocked(o Outcome) {
	v.lastExit, v.last = o.String(), &o
}

func (v *vmSup) restart() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.timer, v.nextStart = nil, time.Time{}
	if !v.wanted || v.monitor != nil || v.d.ctx.Err() != nil {
		return
	}
	v.restarts++
	if err := v.spawnLocked(fmt.Sprintf("restart %d, after %s", v.restarts, v.lastExit)); err != nil {
		v.wanted, v.failed, v.lastExit, v.lastTail = false, true, err.Error(), nil
		v.logTransition(slog.LevelWarn, "failed", Failed, err.Error())
		v.emit(EventFailed, Failed, err.Error(), Event{})
	}
}

// stop keeps the VM stopped and ends its run by the ladder l, then waits
// for the monitor's teardown. A guest that answers by rebooting counts as
// stopped: the VM is no longer wanted, so nothing restarts it.
func (v *vmSup) stop(ctx context.Context, l Ladder) (Outcome, error) {
	v.mu.Lock()
	v.wanted, v.stopping = false, true
	pending := v.timer != nil
	if pending {
		v.timer.Stop()
		v.timer, v.nextStart = nil, time.Time{}
	}
	mon, exited := v.monitor, v.exited
	if mon != nil {
		// Under the lock: no running event can come after it.
		v.emit(EventStopping, Stopping, "stop requested", Event{})
	} else if pending {
		v.emit(EventStopped, Stopped, "stop requested; the scheduled restart is cancelled", Event{})
	}
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.stopping = false
		v.mu.Unlock()
	}()
	if mon == nil {
		return Outcome{How: NotRunning, Requested: true}, nil
	}
	v.logTransition(slog.LevelInfo, "stopping", Stopping, "stop requested")
	var out Outcome
	vm := v.d.State.Inspect(v.name)
	if vm.Running && vm.Booted != "" {
		r := &runner.Runner{}
		if real, ok := v.d.State.Trusted(vm.Booted); ok {
			if loaded, err := runner.Load(real); err == nil {
				r = loaded
			}
		}
		var err error
		if out, err = Stop(ctx, vm.Dir, r, *vm.Process, l, v.d.ShutdownAs, v.d.Log.With("vm", v.name)); err != nil {
			return Outcome{}, fmt.Errorf("stopping %q: %w", v.name, err)
		}
	} else {
		// Still setting up: the monitor aborts and tears down.
		syscall.Kill(mon.PID, syscall.SIGTERM)
		out = Outcome{How: Terminated, Requested: true, Reason: "stopped before the hypervisor ran"}
	}
	select {
	case <-exited:
	case <-ctx.Done():
		return Outcome{}, fmt.Errorf("stopping %q: waiting for its teardown: %w", v.name, ctx.Err())
	}
	v.mu.Lock()
	out = out.Refine(v.exitRec, v.exitOK)
	v.setLastLocked(out)
	v.emit(EventStopped, Stopped, out.String(), Event{Outcome: v.last})
	v.mu.Unlock()
	v.logTransition(slog.LevelInfo, "stopped", Stopped, out.String(), "how", out.How)
	return out, nil
}

// cleanupDead tears down after a VM that died with the previous daemon.
func (v *vmSup) cleanupDead() {
	if v.d.Cleanup == nil {
		return
	}
	const why = "its monitor died with the previous daemon"
	if err := v.d.Cleanup(v.name); err != nil {
		v.logTransition(slog.LevelWarn, "cleanup failed", Broken, why, "err", err)
		v.emit(EventFailed, Broken, why+"; cleaning up after it failed: "+err.Error(), Event{})
		return
	}
	v.logTransition(slog.LevelInfo, "cleaned up", Stopped, why)
	v.emit(EventStopped, Stopped, why+"; cleaned up after it", Event{})
}

func (v *vmSup) status(vm state.VM) Status {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := Status{Name: v.name, Wanted: v.wanted, Restarts: v.restarts, LastExit: v.lastExit, Tail: v.lastTail, Exit: v.last, Since: v.since, NextStart: v.nextStart}
	switch {
	case v.stopping:
		st.State = Stopping
	case v.monitor != nil && vm.Running && (!v.notify || IsReady(v.d.Runtime, v.name)):
		st.State, st.PID = Running, vm.Process.PID
	case v.monitor != nil, v.timer != nil:
		st.State = Starting
	case v.failed:
		st.State = Failed
	default:
		fact := factStatus(vm)
		st.State, st.PID = fact.State, fact.PID
	}
	if v.monitor != nil {
		st.Console = state.ConsoleSocket(v.name)
	}
	return st
}
