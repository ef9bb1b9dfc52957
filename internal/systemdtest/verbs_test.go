package systemdtest_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVerbs: microvm's own verbs on a VM systemd manages go through
// systemd (D-Bus) and report what its unit says.
func TestVerbs(t *testing.T) {
	c := boot(t)
	v := newVM(t, c, "verbs", stub{taps: []string{"vm-verbs"}})

	if out := v.microvm("start", "verbs"); out != "Started verbs.\n" {
		t.Errorf("start said %q", out)
	}
	if got := state(t, c, v.unit()); got != "active" {
		t.Fatalf("microvm@verbs is %s after microvm start", got)
	}
	v.waitConsole("^stub: up$", time.Minute)
	pid := show(t, c, v.unit(), "MainPID")["MainPID"]

	// status: the unit's main pid, restarts, the time since it started.
	out := v.microvm("status", "verbs")
	if !regexp.MustCompile(`(?m)^verbs +running +` + pid + ` +0 +[0-9]+s`).MatchString(out) {
		t.Errorf("status does not show microvm@'s MainPID %s:\n%s", pid, out)
	}
	var sts []struct {
		Name      string    `json:"name"`
		State     string    `json:"state"`
		PID       int       `json:"pid"`
		Restarts  int       `json:"restarts"`
		LastExit  string    `json:"lastExit"`
		Since     time.Time `json:"since"`
		ManagedBy string    `json:"managedBy"`
	}
	if err := json.Unmarshal([]byte(v.microvm("status", "--json", "verbs")), &sts); err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].ManagedBy != "systemd" || sts[0].State != "running" || time.Since(sts[0].Since) > time.Minute {
		t.Errorf("status --json: %+v", sts)
	}

	// list: running (green) comes from the unit, there is no process
	// record.
	var entries []struct {
		Name    string `json:"name"`
		Running bool   `json:"running"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal([]byte(v.microvm("list", "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Name == "verbs" {
			found = true
			if !e.Running || e.Status != "current" {
				t.Errorf("list: %+v, want running and current", e)
			}
		}
	}
	if !found {
		t.Errorf("list does not show verbs: %+v", entries)
	}

	// top: the unit's MainPID and cgroup give the numbers, its NRestarts
	// the restarts (a snapshot: no terminal here).
	out = v.microvm("top", "--once")
	if !regexp.MustCompile(`(?m)^verbs +running +[0-9]+\.[0-9] +[0-9.]+[KMG] +[0-9.]+[KMG]? +[0-9.]+[KMG]? +[0-9.]+[KMG]? +[0-9]+s +0$`).MatchString(out) {
		t.Errorf("top --once does not show verbs running with its numbers:\n%s", out)
	}

	// logs: the journal of the VM's units, -n and -f included.
	logs := v.microvm("logs", "verbs")
	for _, want := range []string{"microvm@verbs[", "stub: up", "Finished microvm-tap-interfaces@verbs.service"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs has no %q:\n%s", want, logs)
		}
	}
	if out := v.microvm("logs", "-n", "1", "verbs"); strings.Count(out, "\n") != 1 {
		t.Errorf("logs -n 1 printed:\n%s", out)
	}
	follow := run(t, c, "sh", "-c", `microvm logs -f -n 1 verbs > /tmp/follow.out 2>&1 & p=$!
		i=0; until grep -q . /tmp/follow.out; do sleep 0.05; i=$((i+1)); [ $i -lt 200 ] || break; done
		systemctl kill --signal=HUP --kill-who=main microvm@verbs.service
		i=0; until grep -q "stub: hup" /tmp/follow.out; do sleep 0.05; i=$((i+1)); [ $i -lt 200 ] || break; done
		kill -INT $p; wait $p; echo "exit $?"; cat /tmp/follow.out`)
	if !strings.Contains(follow, "exit 0\n") || !strings.Contains(follow, "stub: hup") {
		t.Errorf("logs -f did not follow the journal, or did not end cleanly on SIGINT:\n%s", follow)
	}

	// restart: a new hypervisor process, a manual restart is no
	// automatic one.
	if out := v.microvm("restart", "verbs"); out != "Restarted verbs.\n" {
		t.Errorf("restart said %q", out)
	}
	p := show(t, c, v.unit(), "MainPID", "NRestarts", "ActiveState")
	if p["ActiveState"] != "active" || p["MainPID"] == pid || p["NRestarts"] != "0" {
		t.Errorf("after microvm restart: %v (MainPID was %s)", p, pid)
	}

	// update -R: the new runner is booted through systemctl restart, so
	// the helpers are re-run from it too.
	oldBooted := run(t, c, "readlink", v.dir()+"/booted")
	v.writeStub(stub{taps: []string{"vm-verbs"}, version: "2"})
	out = v.microvm("update", "verbs", "--restart")
	if !strings.Contains(out, "Restarting MicroVM verbs") {
		t.Errorf("update -R said:\n%s", out)
	}
	booted := run(t, c, "readlink", v.dir()+"/booted")
	if booted == oldBooted || booted != run(t, c, "readlink", v.dir()+"/current") {
		t.Errorf("after update -R booted is %s (was %s), want the new current", booted, oldBooted)
	}
	v.waitConsole("^stub: version 2 running", time.Minute)

	// stop: graceful, and returns only once the teardown is done.
	if out := v.microvm("stop", "verbs"); out != "Stopped verbs (the hypervisor exited with status 0).\n" {
		t.Errorf("stop said %q", out)
	}
	if exists(c, v.dir()+"/booted") || link(t, c, "vm-verbs") {
		t.Error("booted or the tap is still there when microvm stop returned")
	}
	if !strings.Contains(v.console(), "stub: power button pressed, powering off") {
		t.Errorf("microvm stop did not use microvm-shutdown:\n%s", v.console())
	}
	out = v.microvm("status", "verbs")
	if !regexp.MustCompile(`(?m)^verbs +stopped +- +0 +[0-9]+s +- +the hypervisor exited with status 0$`).MatchString(out) {
		t.Errorf("status after the stop:\n%s", out)
	}
	if out := v.microvm("stop", "verbs"); out != "verbs is not running.\n" {
		t.Errorf("a second stop said %q", out)
	}
	if out := fails(t, c, "microvm", "stop", "nosuch"); !strings.Contains(out, `stopping "nosuch": no such VM`) {
		t.Errorf("stop of an unknown VM said %q", out)
	}
}
