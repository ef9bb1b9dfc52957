package supervisor

import (
	"encoding/json"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
)

// How a run ended.
const (
	PoweredOff = "powered-off" // the guest powered off
	Rebooted   = "rebooted"    // the guest rebooted (the hypervisor exited)
	// ShutDown: the hypervisor exited after a stop's request, before
	// SIGTERM, and did not say whether its guest powered off or rebooted.
	ShutDown   = "shut-down"
	Exited     = "exited"      // status 0 without a request, reason unknown or the host's
	Terminated = "terminated"  // SIGTERM of a stop ended it
	Killed     = "killed"      // only SIGKILL did
	Crashed    = "crashed"     // a non-zero status, a signal, a guest panic
	NotRunning = "not-running" // a stop found nothing to stop
	// NotStarted: host preparation or the pre-start check refused, or the
	// runner could not be started; Reason says why.
	NotStarted = "not-started"
)

// Outcome says how a run ended: what a stop returns, what status shows.
type Outcome struct {
	How string
	// Requested is true when a stop ended the run; false when the guest
	// or the hypervisor did so on its own.
	Requested bool
	// Graceful is true when the stop asked the guest first (the runner
	// has bin/microvm-shutdown).
	Graceful bool
	// After is the time from the stop's first request to the end.
	After time.Duration
	// Timeout and KillAfter are the stop's times, for Terminated and
	// Killed.
	Timeout, KillAfter time.Duration
	// Code is the exit status as `microvm run` returns it (128+N: signal
	// N), when known.
	Code *int
	// Reason is the hypervisor's own word ("guest-reset", "crosvm exit
	// status 32"), or why nothing is known.
	Reason string
	// Process is an image VM's process's exit status, as its init
	// reported it before the guest powered off (ExitRecord.Process).
	Process *int
}

// Clean reports whether the run ended as its guest or a stop wanted:
// what the restart policy's on-failure counts as no failure.
func (o Outcome) Clean() bool {
	if o.Process != nil && *o.Process != 0 {
		return false // the image's process failed, as a container's would
	}
	switch o.How {
	case PoweredOff, Exited, ShutDown, Terminated, NotRunning:
		return true
	}
	return false
}

// String says it in words, as stop prints it and status shows it:
// "powered off by the guest after 3.2 s", "rebooted by the guest",
// "did not power off within 40 s; terminated", "crashed: exit status 3";
// for an image VM whose process ended, "the image's process exited with
// status 7; powered off by the guest".
func (o Outcome) String() string {
	if o.Process != nil {
		p := o
		p.Process = nil
		return fmt.Sprintf("the image's process exited with status %d; %s", *o.Process, p)
	}
	after := ""
	if o.Requested && o.After > 0 {
		after = fmt.Sprintf(" after %.1f s", o.After.Seconds())
	}
	why := ""
	if o.Reason != "" {
		why = " (" + o.Reason + ")"
	}
	gave := ""
	if o.Graceful {
		gave = "did not power off within " + seconds(o.Timeout) + "; "
	}
	switch o.How {
	case PoweredOff:
		return "powered off by the guest" + after
	case Rebooted:
		return "rebooted by the guest" + after
	case ShutDown:
		return "shut down by the guest" + after
	case Exited:
		return "the hypervisor exited with status 0" + why
	case Terminated:
		switch {
		case o.Graceful:
			return gave + "terminated"
		case o.Reason != "":
			return "terminated" + why
		}
		return "terminated (the runner has no bin/microvm-shutdown)" + after
	case Killed:
		return gave + "killed: still running " + seconds(o.KillAfter) + " after SIGTERM"
	case Crashed:
		switch {
		case o.Code != nil && *o.Code > 128:
			return fmt.Sprintf("crashed: signal %d (%s)%s", *o.Code-128, syscall.Signal(*o.Code-128), why)
		case o.Code != nil:
			return fmt.Sprintf("crashed: exit status %d%s", *o.Code, why)
		case o.Reason != "":
			return "crashed: " + o.Reason
		}
		return "crashed"
	case NotRunning:
		return "not running"
	case NotStarted:
		return "did not start: " + o.Reason
	}
	return o.How
}

// seconds writes d as "40 s", "1.5 s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// ExitOutcome is how a run ended on its own, from the exit record the
// monitor wrote (ok false: there was none, the monitor died).
func ExitOutcome(rec ExitRecord, ok bool) Outcome {
	if !ok {
		return Outcome{How: Crashed, Reason: "the monitor ended without recording an exit status"}
	}
	if rec.Error != "" {
		return Outcome{How: NotStarted, Reason: rec.Error}
	}
	code := rec.Code
	o := Outcome{Code: &code, Reason: rec.Reason, Process: rec.Process}
	switch {
	case rec.Ending == control.EndPowerOff:
		o.How = PoweredOff
	case rec.Ending == control.EndReboot:
		o.How = Rebooted
	case rec.Ending == control.EndPanic, code != 0:
		o.How = Crashed
	default:
		o.How = Exited
	}
	return o
}

// Refine adds to a stop's outcome what the exit record says: a ShutDown
// was a power-off or a reboot, when the hypervisor told.
func (o Outcome) Refine(rec ExitRecord, ok bool) Outcome {
	if !ok || o.How != ShutDown {
		return o
	}
	switch rec.Ending {
	case control.EndPowerOff:
		o.How = PoweredOff
	case control.EndReboot:
		o.How = Rebooted
	}
	code := rec.Code
	o.Code, o.Reason, o.Process = &code, rec.Reason, rec.Process
	return o
}

// outcomeJSON is Outcome on the wire: durations as Go durations
// ("3.245s", to the millisecond),
// and the words of String for clients that only print.
type outcomeJSON struct {
	How       string `json:"how"`
	Requested bool   `json:"requested,omitempty"`
	Graceful  bool   `json:"graceful,omitempty"`
	After     string `json:"after,omitempty"`
	Timeout   string `json:"timeout,omitempty"`
	KillAfter string `json:"killAfter,omitempty"`
	Code      *int   `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Process   *int   `json:"process,omitempty"`
	Message   string `json:"message"`
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.Round(time.Millisecond).String()
}

func parseDurationText(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func (o Outcome) MarshalJSON() ([]byte, error) {
	return json.Marshal(outcomeJSON{
		How: o.How, Requested: o.Requested, Graceful: o.Graceful,
		After: durationText(o.After), Timeout: durationText(o.Timeout), KillAfter: durationText(o.KillAfter),
		Code: o.Code, Reason: o.Reason, Process: o.Process, Message: o.String(),
	})
}

func (o *Outcome) UnmarshalJSON(b []byte) error {
	var j outcomeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*o = Outcome{How: j.How, Requested: j.Requested, Graceful: j.Graceful, Code: j.Code, Reason: j.Reason, Process: j.Process}
	var err error
	for _, f := range []struct {
		text string
		d    *time.Duration
	}{{j.After, &o.After}, {j.Timeout, &o.Timeout}, {j.KillAfter, &o.KillAfter}} {
		if *f.d, err = parseDurationText(f.text); err != nil {
			return fmt.Errorf("outcome: %w", err)
		}
	}
	return nil
}
