package supervisor

import (
	"fmt"
	"time"
)

// Restart modes, as systemd's Restart=. A guest's reboot restarts the
// VM in every mode: with qemu's -no-reboot the hypervisor exits, but the
// guest asked to come back (and comes back on its updated runner, which
// is how microvm.nix users apply updates).
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNo        = "no"
)

// Policy decides whether a VM whose hypervisor exited is started again.
// A guest that powers off or reboots makes the hypervisor exit cleanly
// (status 0: qemu -no-reboot, reboot=t); which of the two it was comes
// from the hypervisor (see control.Ending) where it tells. Anything else
// is a crash.
type Policy struct {
	Mode     string        // RestartAlways, RestartOnFailure or RestartNo
	Delay    time.Duration // first delay; doubled after each quick exit
	MaxDelay time.Duration // the backoff's cap
	// Burst exits within Window make the VM failed instead of restarted:
	// a crash loop must not spin forever (systemd's StartLimitBurst).
	Burst  int
	Window time.Duration
	// Healthy is how long a run must last for the backoff to start over.
	Healthy time.Duration
}

// DefaultPolicy restarts after a crash or a guest's reboot, and leaves a
// guest that powered off off: microvm.nix's Restart=always also restarts
// after a power-off, because it cannot tell one from a reboot, so its
// guests can never stay off. RestartSec=5s as microvm.nix, with a
// backoff to 5 minutes and a cap of 5 quick exits in 10 minutes.
var DefaultPolicy = Policy{Mode: RestartOnFailure, Delay: 5 * time.Second, MaxDelay: 5 * time.Minute, Burst: 5, Window: 10 * time.Minute, Healthy: time.Minute}

// Check reports a policy that cannot work.
func (p Policy) Check() error {
	switch p.Mode {
	case RestartAlways, RestartOnFailure, RestartNo:
	default:
		return fmt.Errorf("restart %q; expected %s, %s or %s", p.Mode, RestartAlways, RestartOnFailure, RestartNo)
	}
	if p.Delay < 0 || p.MaxDelay < p.Delay || p.Burst < 0 || p.Window < 0 {
		return fmt.Errorf("restart policy %+v: negative or inverted durations", p)
	}
	return nil
}

// Exit is one end of a run that no stop asked for.
type Exit struct {
	Outcome Outcome
	Started time.Time
	Ended   time.Time
}

// Decision is what to do after an exit.
type Decision struct {
	Restart bool
	After   time.Duration
	Failed  bool   // crash loop: give up until started by hand
	Reason  string // for status
}

// Tracker applies a Policy to a VM's successive exits.
type Tracker struct {
	P      Policy
	exits  []time.Time // ends of recent unhealthy runs
	streak int         // quick exits in a row, for the backoff
}

// Next records exit e and decides.
func (t *Tracker) Next(e Exit) Decision {
	reason := e.Outcome.String()
	restart := e.Outcome.How == Rebooted
	switch t.P.Mode {
	case RestartAlways:
		restart = true
	case RestartOnFailure:
		restart = restart || !e.Outcome.Clean()
	}
	if !restart {
		return Decision{Reason: reason + "; restart=" + t.P.Mode}
	}
	if e.Ended.Sub(e.Started) >= t.P.Healthy {
		t.streak, t.exits = 0, nil
	} else {
		t.streak++
		t.exits = append(t.exits, e.Ended)
	}
	// Only exits within the window count towards the burst.
	recent := t.exits[:0]
	for _, x := range t.exits {
		if e.Ended.Sub(x) <= t.P.Window {
			recent = append(recent, x)
		}
	}
	t.exits = recent
	if t.P.Burst > 0 && len(t.exits) >= t.P.Burst {
		return Decision{Failed: true, Reason: fmt.Sprintf("%s; %d quick exits within %s", reason, len(t.exits), t.P.Window)}
	}
	delay := t.P.Delay
	for i := 1; i < t.streak && delay < t.P.MaxDelay; i++ {
		delay *= 2
	}
	if delay > t.P.MaxDelay {
		delay = t.P.MaxDelay
	}
	return Decision{Restart: true, After: delay, Reason: reason}
}

// Reset forgets past exits, as a manual start does.
func (t *Tracker) Reset() { t.streak, t.exits = 0, nil }
