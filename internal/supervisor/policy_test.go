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
		d := tr.Next(Exit{Started: now, Ended: now.Add(lasted)})
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
	clean := Exit{Clean: true, Started: now, Ended: now.Add(time.Hour)}
	crash := Exit{Started: now, Ended: now.Add(time.Hour)}
	for _, tc := range []struct {
		mode    string
		exit    Exit
		restart bool
	}{
		{RestartAlways, clean, true}, // microvm.nix: a guest reboot is a poweroff
		{RestartAlways, crash, true},
		{RestartOnFailure, clean, false},
		{RestartOnFailure, crash, true},
		{RestartNo, crash, false},
	} {
		tr := &Tracker{P: Policy{Mode: tc.mode, Delay: time.Second, MaxDelay: time.Second, Healthy: time.Minute}}
		if d := tr.Next(tc.exit); d.Restart != tc.restart {
			t.Errorf("%s after clean=%v: %+v, want restart=%v", tc.mode, tc.exit.Clean, d, tc.restart)
		}
	}
	if err := (Policy{Mode: "sometimes"}).Check(); err == nil {
		t.Error("unknown mode accepted")
	}
	if err := DefaultPolicy.Check(); err != nil {
		t.Error(err)
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
