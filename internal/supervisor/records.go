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

// ExitFile records how the VM's last run ended; the monitor writes it.
func ExitFile(runtime, name string) string { return filepath.Join(runtime, name+".exit") }

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
}

// WriteExit records the end of a run, at the time of the call when
// rec.Time is zero.
func WriteExit(runtime, name string, rec ExitRecord) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	b, _ := json.Marshal(rec)
	return renameio.WriteFile(ExitFile(runtime, name), append(b, '\n'), 0o600)
}

// ReadExit reads and removes the exit record; ok is false without one
// (the monitor died before writing it: count it as a crash).
func ReadExit(runtime, name string) (rec ExitRecord, ok bool) {
	rec, ok = PeekExit(runtime, name)
	if ok {
		os.Remove(ExitFile(runtime, name))
	}
	return rec, ok
}

// PeekExit reads the exit record and leaves it for the daemon.
func PeekExit(runtime, name string) (rec ExitRecord, ok bool) {
	b, err := os.ReadFile(ExitFile(runtime, name))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		return ExitRecord{}, false
	}
	return rec, true
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
