package systemdtest_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fastRestart shortens microvm@NAME's RestartSec for a test, leaving the
// template's start limit (5 starts in 10 minutes) as it is: five crashes
// then take a second, not 25.
func fastRestart(v *vm) {
	v.t.Helper()
	dropIn := "/run/systemd/system/" + v.unit() + ".d/systemdtest.conf"
	if err := v.c.WriteFile(dropIn, []byte("[Service]\nRestartSec=100ms\n"), 0o644); err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() {
		os.Remove(v.c.Path(dropIn))
		try(v.c, "systemctl", "daemon-reload")
	})
	run(v.t, v.c, "systemctl", "daemon-reload")
}

// TestCrashLoop: a hypervisor that keeps crashing is restarted until the
// unit's start limit, then the unit fails, its helpers are torn down
// (nothing stays booted), and status says so; a manual start begins
// afresh.
func TestCrashLoop(t *testing.T) {
	c := boot(t)
	v := newVM(t, c, "crashy", stub{taps: []string{"vm-crashy"}, exitCode: 3})
	fastRestart(v)

	// microvm start sees the hypervisor exit at once and says why.
	out := fails(t, c, "microvm", "start", "crashy")
	for _, want := range []string{"microvm@crashy.service started, but its hypervisor exited at once", "    stub: crashing with 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("microvm start does not say %q:\n%s", want, out)
		}
	}
	waitFor(t, time.Minute, "microvm@crashy failed", func() bool { return state(t, c, v.unit()) == "failed" })
	// systemd 252 keeps the last run's Result when the start limit
	// stops an automatic restart ("Start request repeated too quickly"
	// in the journal), and counts the refused restart in NRestarts.
	p := show(t, c, v.unit(), "Result", "NRestarts", "ExecMainStatus")
	if p["Result"] != "exit-code" || p["ExecMainStatus"] != "3" || p["NRestarts"] != "5" {
		t.Errorf("microvm@crashy ended %v, want exit-code, status 3 and 5 restarts", p)
	}
	if n := strings.Count(v.console(), "stub: crashing with 3"); n != 5 {
		t.Errorf("the hypervisor ran %d times, want StartLimitBurst=5", n)
	}
	// StopWhenUnneeded= tears the helpers down once microvm@ failed.
	waitFor(t, 30*time.Second, "set-booted stopped after the crash loop", func() bool {
		return state(t, c, "microvm-set-booted@crashy.service") == "inactive"
	})
	if exists(c, v.dir()+"/booted") || link(t, c, "vm-crashy") {
		t.Error("the failed VM left booted or its tap behind")
	}
	out = v.microvm("status", "crashy")
	if !regexp.MustCompile(`(?m)^crashy +failed +- +5 +[0-9]+s +- +crashed: exit status 3; not restarted: 5 starts within 10m0s \(StartLimitBurst\)$`).MatchString(out) {
		t.Errorf("status of the crash loop:\n%s", out)
	}

	// A manual start forgets the limit (as the daemon's does).
	fails(t, c, "microvm", "start", "crashy")
	waitFor(t, time.Minute, "a second crash loop", func() bool {
		return strings.Count(v.console(), "stub: crashing with 3") >= 6
	})
	v.microvm("stop", "crashy")
}

// TestRestartAlways: the hypervisor ending with status 0 (a guest's
// reboot or poweroff with qemu -no-reboot) is restarted, as microvm.nix's
// Restart=always does; status counts it.
func TestRestartAlways(t *testing.T) {
	c := boot(t)
	v := newVM(t, c, "reboots", stub{rebootOnce: true})
	fastRestart(v)
	v.microvm("start", "reboots")
	v.waitConsole("^stub: up$", time.Minute)
	if !strings.Contains(v.console(), "stub: rebooting") {
		t.Fatalf("the first run did not end:\n%s", v.console())
	}
	out := v.microvm("status", "reboots")
	if !regexp.MustCompile(`(?m)^reboots +running +[0-9]+ +1 +[0-9]+s +- +the hypervisor exited with status 0$`).MatchString(out) {
		t.Errorf("status after one automatic restart:\n%s", out)
	}
	v.microvm("stop", "reboots")
}
