package supervisor

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"

	"github.com/microvm-host/microvm/internal/state"
)

// The daemon's records live in the runtime directory, root's alone: the
// VM directories are writable by the VM user, who must not be able to
// forge what the daemon trusts (which process to adopt, how a run ended).

// MonitorFile records the monitor process (`microvm run --monitor`) of
// the VM name, for re-adoption after a daemon restart.
func MonitorFile(runtime, name string) string { return filepath.Join(runtime, name+".monitor") }

// ExitFile records how the VM's last run ended; `microvm run` writes it.
// It stays after it was read, so that status shows the last exit also
// without a daemon; the daemon removes it before it starts the next run,
// so that a monitor that dies without writing one is not mistaken for the
// run before.
func ExitFile(runtime, name string) string { return filepath.Join(runtime, name+".exit") }

// Bounds of ExitRecord.Tail: enough for a hypervisor's complaint and the
// guest's last words, small enough for a status line and an API answer.
const (
	TailLines = 20
	TailBytes = 4 << 10
)

// ExitRecord is how a run ended: the hypervisor's exit status as
// `microvm run` returns it (0: the guest powered off or rebooted; 128+N:
// signal N), and why, as far as the hypervisor told (see
// control.Ending): the status alone cannot tell a guest's reboot, which
// restarts the VM, from its power-off, which leaves it off.
type ExitRecord struct {
	Code int       `json:"code"`
	Time time.Time `json:"time"`
	// Ending is a control.End* constant, "" when the hypervisor did not
	// say; Reason is its own word for it ("guest-reset").
	Ending string `json:"ending,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Error is why the run ended before or without the hypervisor's own
	// exit: host preparation or the pre-start check refused, or the
	// runner could not be started.
	Error string `json:"error,omitempty"`
	// Tail is the last lines of the console (the hypervisor's output and
	// its stderr) of a run that failed, at most TailLines and TailBytes.
	// They are the guest's and the hypervisor's bytes: print them through
	// package printable.
	Tail []string `json:"tail,omitempty"`
	// Process is the exit status of an image VM's process, as its init
	// reported it on the console before powering off (ociinit.ExitLine);
	// nil for other VMs, and when the VM ended before its process did.
	// It is the guest's word, like the console.
	Process *int `json:"process,omitempty"`
}

// Summary says how the run ended, for status and logs (see ExitOutcome).
func (r ExitRecord) Summary() string { return ExitOutcome(r, true).String() }

// WriteExit records the end of a run; a zero Time is now.
func WriteExit(runtime, name string, rec ExitRecord) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	if n := len(rec.Tail); n > TailLines {
		rec.Tail = rec.Tail[n-TailLines:]
	}
	for size := tailSize(rec.Tail); size > TailBytes; size -= len(rec.Tail[0]) {
		rec.Tail = rec.Tail[1:]
	}
	b, _ := json.Marshal(rec)
	return renameio.WriteFile(ExitFile(runtime, name), append(b, '\n'), 0o600)
}

func tailSize(lines []string) int {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return n
}

// ReadExit reads the exit record; ok is false without one (the monitor
// died before writing it: count it as a crash). The record stays.
func ReadExit(runtime, name string) (rec ExitRecord, ok bool) {
	b, err := os.ReadFile(ExitFile(runtime, name))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		return ExitRecord{}, false
	}
	return rec, true
}

// RemoveExit forgets how the last run ended, for a VM that is removed: a
// new VM of the same name has not run yet.
func RemoveExit(runtime, name string) error {
	if err := os.Remove(ExitFile(runtime, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// WriteMonitor records the monitor process.
func WriteMonitor(runtime, name string, p state.Process) error {
	b, _ := json.Marshal(p)
	return renameio.WriteFile(MonitorFile(runtime, name), append(b, '\n'), 0o600)
}

// ReadMonitor returns the recorded monitor if it still runs.
func ReadMonitor(runtime, name string) (*state.Process, error) {
	b, err := os.ReadFile(MonitorFile(runtime, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p state.Process
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	if !p.Alive() {
		return nil, nil
	}
	return &p, nil
}

// RemoveMonitor forgets the monitor.
func RemoveMonitor(runtime, name string) { os.Remove(MonitorFile(runtime, name)) }

// NotifyFile is the sd_notify socket a monitored VM's runner sends the
// guest's READY to (runners with supportsNotifySocket).
func NotifyFile(runtime, name string) string { return filepath.Join(runtime, name+".notify") }

// ReadyFile exists while the VM's guest has said it is ready (sd_notify
// READY=1 through its runner's relay); only for runners that support it.
func ReadyFile(runtime, name string) string { return filepath.Join(runtime, name+".ready") }

// WriteReady records the guest's readiness.
func WriteReady(runtime, name string) error {
	return renameio.WriteFile(ReadyFile(runtime, name), nil, 0o600)
}

// IsReady reports whether the guest said it is ready.
func IsReady(runtime, name string) bool {
	_, err := os.Stat(ReadyFile(runtime, name))
	return err == nil
}
