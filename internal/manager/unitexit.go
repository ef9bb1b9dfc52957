package manager

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
)

// UnitExit is how microvm@NAME's main process (the hypervisor) last
// ended, as systemd tells ExecStopPost= ($EXIT_CODE, $EXIT_STATUS,
// $SERVICE_RESULT). systemd forgets it when it unloads the inactive unit,
// which it does soon after a stop, so `microvm host record-exit` (the
// unit's ExecStopPost=) keeps it for status.
type UnitExit struct {
	Code   string    `json:"code"`   // exited, killed or dumped; "" if it never ran
	Status string    `json:"status"` // the exit status, or the signal's name ("TERM")
	Result string    `json:"result"` // success, exit-code, signal, start-limit-hit, …
	Time   time.Time `json:"time"`
}

// UnitExitFile is the record of the VM name in the runtime directory:
// root's, like the daemon's records, so the VM user cannot forge it.
func UnitExitFile(runtime, name string) string {
	return filepath.Join(runtime, name+".unit-exit")
}

// WriteUnitExit records e, replacing the previous record.
func WriteUnitExit(runtime, name string, e UnitExit) error {
	if err := os.MkdirAll(runtime, 0o700); err != nil {
		return fmt.Errorf("recording how %q ended: %w", name, err)
	}
	b, _ := json.Marshal(e)
	if err := renameio.WriteFile(UnitExitFile(runtime, name), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("recording how %q ended: %w", name, err)
	}
	return nil
}

// ReadUnitExit reads the record; ok is false without a readable one.
func ReadUnitExit(runtime, name string) (e UnitExit, ok bool) {
	b, err := os.ReadFile(UnitExitFile(runtime, name))
	if err != nil || json.Unmarshal(b, &e) != nil {
		return UnitExit{}, false
	}
	return e, true
}

// String says how the hypervisor ended, in the daemon's words where
// they exist, and why systemd gave up on it if it did.
func (e UnitExit) String() string {
	var s string
	switch e.Code {
	case "exited":
		// The daemon's words (supervisor.Outcome). Status 0 is a guest's
		// power-off or reboot alike (qemu -no-reboot): a unit cannot tell.
		s = "crashed: exit status " + e.Status
		if e.Status == "0" {
			s = "the hypervisor exited with status 0"
		}
	case "killed":
		s = "killed by SIG" + e.Status
	case "dumped":
		s = "crashed: killed by SIG" + e.Status + " (core dumped)"
	}
	why := map[string]string{
		"start-limit-hit": "not started: too many starts (StartLimitBurst)",
		"timeout":         "timed out",
		"resources":       "systemd could not set up its process",
		"oom-kill":        "killed by the OOM killer",
		"watchdog":        "watchdog timeout",
		"protocol":        "broke the service protocol",
	}[e.Result]
	switch {
	case why == "":
		return s
	case s == "":
		return why
	}
	return s + "; " + why
}
