package supervisor

import (
	"testing"
	"time"
)

func TestPolicyBackoffAndCrashLoop(t *testing.T) {
	p := Policy{Mode: RestartAlways, Delay: time.Second, MaxDelay: 4 * time.Second, Burst: 4, Window: time.Minute, Healthy: 30 * time.Second}
	tr := &Tracker{P: p}
	now := time.Unix(1000, 0)
	crash := func(lasted time.Duration) Decision {
		d := tr.Next(Exit{Outcome: Outcome{How: Crashed}, Started: now, Ended: now.Add(lasted)})
		now = now.Add(lasted + d.After)
		return d
	}
	var delays []time.Duration
	for range 3 {
		d := crash(time.Second)
		if !d.Restart || d.Failed {
			t.Fatalf("quick crash %d: %+v, want a restart", len(delays)+1, d)
		}
		delays = append(delays, d.After)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !equal(delays, want) {
		t.Fatalf("backoff %v, want %v", delays, want)
	}
	if d := crash(time.Second); !d.Failed || d.Restart {
		t.Fatalf("4th quick exit in a minute: %+v, want failed", d)
	}
	// A manual start forgets the loop; a long, healthy run resets the backoff.
	tr.Reset()
	crash(time.Second)
	if d := crash(time.Minute); d.After != time.Second {
		t.Fatalf("after a healthy run: delay %s, want the first delay again", d.After)
	}
}

func TestPolicyModes(t *testing.T) {
	now := time.Unix(0, 0)
	exit := func(how string) Exit {
		return Exit{Outcome: Outcome{How: how}, Started: now, Ended: now.Add(time.Hour)}
	}
	poweroff, reboot, clean, crash := exit(PoweredOff), exit(Rebooted), exit(Exited), exit(Crashed)
	for _, tc := range []struct {
		mode    string
		exit    Exit
		restart bool
	}{
		{RestartAlways, poweroff, true}, // microvm.nix's Restart=always
		{RestartAlways, reboot, true},
		{RestartAlways, clean, true},
		{RestartAlways, crash, true},
		{RestartOnFailure, poweroff, false}, // a guest that powered off stays off
		{RestartOnFailure, reboot, true},    // a guest that rebooted comes back
		{RestartOnFailure, clean, false},    // status 0, reason unknown: as systemd
		{RestartOnFailure, crash, true},
		{RestartNo, poweroff, false},
		{RestartNo, reboot, true}, // the guest asked to come back
		{RestartNo, crash, false},
	} {
		tr := &Tracker{P: Policy{Mode: tc.mode, Delay: time.Second, MaxDelay: time.Second, Healthy: time.Minute}}
		if d := tr.Next(tc.exit); d.Restart != tc.restart {
			t.Errorf("%s after %s: %+v, want restart=%v", tc.mode, tc.exit.Outcome.How, d, tc.restart)
		}
	}
	if DefaultPolicy.Mode != RestartOnFailure {
		t.Errorf("default mode %q: a guest that powers off must stay off", DefaultPolicy.Mode)
	}
	if err := (Policy{Mode: "sometimes"}).Check(); err == nil {
		t.Error("unknown mode accepted")
	}
	if err := DefaultPolicy.Check(); err != nil {
		t.Error(err)
	}
}

// TestPolicyRebootLoop: a guest that reboots at once, again and again,
// ends as failed like a crash loop.
func TestPolicyRebootLoop(t *testing.T) {
	tr := &Tracker{P: Policy{Mode: RestartNo, Delay: time.Second, MaxDelay: time.Second, Burst: 3, Window: time.Minute, Healthy: time.Minute}}
	now := time.Unix(0, 0)
	var d Decision
	for range 3 {
		d = tr.Next(Exit{Outcome: Outcome{How: Rebooted}, Started: now, Ended: now.Add(time.Second)})
		now = now.Add(2 * time.Second)
	}
	if !d.Failed || d.Reason != "rebooted by the guest; 3 quick exits within 1m0s" {
		t.Fatalf("3rd quick reboot: %+v, want failed", d)
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
