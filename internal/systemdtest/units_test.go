package systemdtest_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestInstall: `microvm systemd install` (run by setUp) left the units
// where systemd loads them, enabled microvms.target, and running it again
// changes nothing.
func TestInstall(t *testing.T) {
	c := boot(t)
	if got := strings.TrimSpace(run(t, c, "systemctl", "is-enabled", "microvms.target")); got != "enabled" {
		t.Errorf("microvms.target is %q, want enabled", got)
	}
	p := show(t, c, "microvm@any.service", "LoadState", "FragmentPath", "Restart", "StartLimitBurst", "StartLimitIntervalUSec", "RestartUSec", "User")
	want := map[string]string{
		"LoadState": "loaded", "FragmentPath": "/etc/systemd/system/microvm@.service",
		"Restart": "always", "RestartUSec": "5s", "StartLimitBurst": "5", "StartLimitIntervalUSec": "10min", "User": "microvm",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("microvm@any.service %s=%q, want %q", k, p[k], v)
		}
	}
	if wants := show(t, c, "microvms.target", "Wants")["Wants"]; wants != "microvm@"+autostartVM+".service" {
		t.Errorf("microvms.target Wants=%q", wants)
	}
	before, err := os.Stat(c.Path("/etc/systemd/system/microvm@.service"))
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, c, "microvm", "systemd", "install", "--autostart", autostartVM)
	if !strings.Contains(out, "Installed 9 units in /etc/systemd/system") || !strings.Contains(out, "Enabled microvms.target") {
		t.Errorf("second install said:\n%s", out)
	}
	after, err := os.Stat(c.Path("/etc/systemd/system/microvm@.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Error("a second install rewrote an unchanged unit")
	}
}

// TestSystemctlStartStop is systemd alone, as an administrator uses it:
// `systemctl start microvm@NAME` runs set-booted, then the tap, macvtap
// and virtiofsd helpers, and only then the hypervisor, which finds its
// taps owned by the VM user, its virtiofs socket listening and booted
// set by root. `systemctl stop` powers it off through
// booted/bin/microvm-shutdown, then tears the helpers down, and only then
// removes booted.
func TestSystemctlStartStop(t *testing.T) {
	c := boot(t)
	macvtapParent(t, c)
	v := newVM(t, c, "units", stub{taps: []string{"vm-units"}, macvtaps: []string{"mvt-units"}, share: true})
	since := journalNow(t, c)
	run(t, c, "systemctl", "start", v.unit())
	v.waitConsole("^stub: up$", time.Minute)

	evs := v.jobEvents(since)
	started := index(evs, v.unit(), "Started")
	setBooted := index(evs, "microvm-set-booted@units.service", "Finished")
	if started < 0 || setBooted < 0 {
		t.Fatalf("no start of microvm@ or set-booted in the journal: %+v", evs)
	}
	for _, h := range []string{"tap-interfaces", "macvtap-interfaces", "virtiofsd"} {
		unit := "microvm-" + h + "@units.service"
		begin := index(evs, unit, "Starting")
		done := index(evs, unit, "Finished")
		if h == "virtiofsd" {
			done = index(evs, unit, "Started") // Type=notify: after READY=1
		}
		if begin < setBooted || done < 0 || done > started {
			t.Errorf("%s ran at %d..%d, want after set-booted (%d) and done before microvm@ started (%d): %+v", unit, begin, done, setBooted, started, evs)
		}
	}

	uid := vmUID(t, c)
	console := v.console()
	for _, want := range []string{
		"stub: version 1 running as microvm:kvm in /var/lib/microvms/units",
		"stub: booted ../.store/",
		fmt.Sprintf("stub: tap vm-units owner %d", uid),
		"stub: macvtap mvt-units /dev/tap",
		"stub: virtiofs socket units-virtiofs-data.sock listens",
	} {
		if !strings.Contains(console, want) {
			t.Errorf("the hypervisor did not report %q:\n%s", want, console)
		}
	}
	if !regexp.MustCompile(`stub: booted \S+ owned by root\n`).MatchString(console) {
		t.Errorf("booted is not root's when the hypervisor starts:\n%s", console)
	}
	if !regexp.MustCompile(`stub: macvtap mvt-units /dev/tap\d+ owner microvm\n`).MatchString(console) {
		t.Errorf("the macvtap's device is not the VM user's:\n%s", console)
	}
	if out := run(t, c, "ip", "-details", "link", "show", "vm-units"); !strings.Contains(out, "tun type tap") || !strings.Contains(out, "user microvm") {
		t.Errorf("vm-units is not a tap of the VM user:\n%s", out)
	}
	if _, err := os.Stat("/sys/class/net/vm-units"); err == nil {
		t.Error("the tap is on the host, not in the container")
	}

	since = journalNow(t, c)
	run(t, c, "systemctl", "stop", v.unit())
	// systemctl returns when microvm@ is down; the helpers' stop jobs
	// follow.
	waitFor(t, 30*time.Second, "set-booted stopped", func() bool {
		return state(t, c, "microvm-set-booted@units.service") == "inactive"
	})
	console = v.console()
	if !strings.Contains(console, "stub-shutdown: pressing the power button") || !strings.Contains(console, "stub: power button pressed, powering off") ||
		strings.Contains(console, "stub: terminated") {
		t.Errorf("the stop did not go through booted/bin/microvm-shutdown:\n%s", console)
	}
	if p := show(t, c, v.unit(), "ExecMainCode", "ExecMainStatus", "Result"); p["ExecMainStatus"] != "0" || p["Result"] != "success" {
		t.Errorf("microvm@ ended %v, want status 0 and success", p)
	}
	evs = v.jobEvents(since)
	unsetBooted := index(evs, "microvm-set-booted@units.service", "Stopping")
	for _, h := range []string{"tap-interfaces", "macvtap-interfaces", "virtiofsd"} {
		unit := "microvm-" + h + "@units.service"
		if stopped := index(evs, unit, "Stopped"); stopped < 0 || stopped > unsetBooted {
			t.Errorf("%s stopped at %d, want before set-booted began its stop (%d): %+v", unit, stopped, unsetBooted, evs)
		}
	}
	for _, l := range []string{"vm-units", "mvt-units"} {
		if link(t, c, l) {
			t.Errorf("%s is left behind", l)
		}
	}
	if exists(c, v.dir()+"/booted") || exists(c, v.dir()+"/units-virtiofs-data.sock") {
		t.Errorf("booted or the virtiofs socket is left behind")
	}
	if out := run(t, c, "sh", "-c", "pgrep -a virtiofsd || true"); strings.TrimSpace(out) != "" {
		t.Errorf("virtiofsd still runs: %s", out)
	}
}
