package systemdtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/systemdtest"
)

// cmdTimeout bounds one command in the container; a stop waits for the
// guest (qemu under TCG on a busy machine) and the teardown.
const cmdTimeout = 3 * time.Minute

// vm is one VM of a test in the shared container, and the container.
type vm struct {
	t    *testing.T
	c    *systemdtest.Container
	name string
}

// run runs args in the container and fails the test when they fail.
func run(t *testing.T, c *systemdtest.Container, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := c.Run(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// try runs args in the container and ignores how it went: for cleanups,
// which run after the test's context ended.
func try(c *systemdtest.Container, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c.Run(ctx, args...)
}

// fails runs args in the container, expecting them to fail.
func fails(t *testing.T, c *systemdtest.Container, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := c.Run(ctx, args...)
	if err == nil {
		t.Fatalf("%s succeeded, want it to fail:\n%s", strings.Join(args, " "), out)
	}
	return out
}

func (v *vm) unit() string { return "microvm@" + v.name + ".service" }
func (v *vm) dir() string  { return "/var/lib/microvms/" + v.name }

// microvm runs the microvm command in the container.
func (v *vm) microvm(args ...string) string {
	v.t.Helper()
	return run(v.t, v.c, append([]string{"microvm"}, args...)...)
}

// show returns unit's properties (systemctl show): the tests read what
// systemd says with systemd's own tool, not with the code under test.
func show(t *testing.T, c *systemdtest.Container, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"systemctl", "show", unit}
	for _, p := range props {
		args = append(args, "--property="+p)
	}
	m := map[string]string{}
	for _, line := range strings.Split(run(t, c, args...), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// waitFor polls cond until it holds, up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// state is unit's ActiveState.
func state(t *testing.T, c *systemdtest.Container, unit string) string {
	t.Helper()
	return show(t, c, unit, "ActiveState")["ActiveState"]
}

// console is what microvm@NAME's processes logged: the hypervisor's
// console, here the stub's report.
func (v *vm) console() string {
	v.t.Helper()
	return run(v.t, v.c, "journalctl", "--no-pager", "--quiet", "--output=cat", "_SYSTEMD_UNIT="+v.unit())
}

// waitConsole waits until the console has a line matching re, and
// gives up early when the unit failed.
func (v *vm) waitConsole(re string, d time.Duration) {
	v.t.Helper()
	rx := regexp.MustCompile("(?m)" + re)
	deadline := time.Now().Add(d)
	for {
		out := v.console()
		if rx.MatchString(out) {
			return
		}
		if s := state(v.t, v.c, v.unit()); s == "failed" {
			v.t.Fatalf("%s failed; its console has no line matching %q:\n%s", v.unit(), re, out)
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("the console of %s has no line matching %q within %s:\n%s", v.name, re, d, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jobEvent is one of systemd's own journal messages about a job.
type jobEvent struct {
	Unit, JobType, JobResult, Message string
}

// jobEvents returns PID 1's messages about the VM's units since since
// (a journalctl --since value), in journal order: "Starting …" has
// JobType set and no result; "Started/Finished/Stopped …" has its result.
func (v *vm) jobEvents(since string) []jobEvent {
	v.t.Helper()
	out := run(v.t, v.c, "journalctl", "--no-pager", "--quiet", "--output=json", "--since="+since, "_PID=1")
	var evs []jobEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Unit      string `json:"UNIT"`
			JobType   string `json:"JOB_TYPE"`
			JobResult string `json:"JOB_RESULT"`
			Message   any    `json:"MESSAGE"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || !strings.HasSuffix(e.Unit, "@"+v.name+".service") {
			continue
		}
		msg, _ := e.Message.(string)
		evs = append(evs, jobEvent{e.Unit, e.JobType, e.JobResult, msg})
	}
	return evs
}

// index is the position of the first event of unit whose message starts
// with prefix ("Starting", "Stopped", …), or -1.
func index(evs []jobEvent, unit, prefix string) int {
	for i, e := range evs {
		if e.Unit == unit && strings.HasPrefix(e.Message, prefix) {
			return i
		}
	}
	return -1
}

// journalNow is a --since value for "from now on".
func journalNow(t *testing.T, c *systemdtest.Container) string {
	t.Helper()
	return "@" + strings.TrimSpace(run(t, c, "date", "+%s.%N"))
}

// exists reports whether path exists in the container (links not
// followed).
func exists(c *systemdtest.Container, p string) bool {
	_, err := os.Lstat(c.Path(p))
	return err == nil
}

// link reports whether the network interface exists in the container.
func link(t *testing.T, c *systemdtest.Container, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	_, err := c.Run(ctx, "ip", "link", "show", "dev", name)
	return err == nil
}

// vmUID is the VM user's uid in the container.
func vmUID(t *testing.T, c *systemdtest.Container) int {
	t.Helper()
	uid, err := strconv.Atoi(strings.TrimSpace(run(t, c, "id", "-u", "microvm")))
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

// stub describes a stand-in runner: a shell "hypervisor" that reports
// what it finds on the host when it starts (booted, taps, macvtaps,
// shares) and runs until bin/microvm-shutdown presses its "power button"
// (SIGUSR1: it powers off, exit 0), or until SIGTERM (exit 143).
type stub struct {
	taps     []string
	macvtaps []string // on the veth "mvt-parent" (see macvtapParent)
	share    bool     // one virtiofs share, tag "data"
	// exitCode makes it exit at once with that status (a crash).
	exitCode int
	// rebootOnce makes its first run end at once with status 0, as a
	// guest's reboot or poweroff ends qemu -no-reboot.
	rebootOnce bool
	// version changes the runner's content, as a rebuild would
	// (default "1").
	version string
}

// stubRun is bin/microvm-run. It runs as the VM user in the VM directory.
const stubRun = `#!/bin/sh
echo "stub: version {{VERSION}} running as $(id -un):$(id -gn) in $(pwd)"
echo "stub: booted $(readlink booted) owned by $(stat -c %U booted)"
{{EXIT}}
for t in {{TAPS}}; do
	echo "stub: tap $t owner $(cat /sys/class/net/$t/owner)"
done
for m in {{MACVTAPS}}; do
	dev=/dev/tap$(cat /sys/class/net/$m/ifindex)
	echo "stub: macvtap $m $dev owner $(stat -c %U $dev)"
done
for s in *-virtiofs-*.sock; do
	[ -S "$s" ] && echo "stub: virtiofs socket $s listens"
done
trap 'echo "stub: power button pressed, powering off"; exit 0' USR1
trap 'echo "stub: terminated"; exit 143' TERM
trap 'echo "stub: hup"' HUP
echo "stub: up"
while :; do
	sleep 1 &
	wait $!
done
`

// stubShutdown is bin/microvm-shutdown: systemd's ExecStop= runs it as
// the VM user with $MAINPID; like microvm's own, it waits until the
// hypervisor is gone.
const stubShutdown = `#!/bin/sh
echo "stub-shutdown: pressing the power button of $MAINPID"
kill -USR1 "$MAINPID"
while kill -0 "$MAINPID" 2>/dev/null; do sleep 0.05; done
`

// macvtapParent makes the link the stubs' macvtaps sit on: one end of a
// veth pair in the container's network namespace, which a reboot
// replaces.
func macvtapParent(t *testing.T, c *systemdtest.Container) {
	t.Helper()
	run(t, c, "ip", "link", "add", "mvt-parent", "type", "veth", "peer", "name", "mvt-peer")
	t.Cleanup(func() { try(c, "ip", "link", "del", "mvt-parent") })
	run(t, c, "ip", "link", "set", "mvt-parent", "up")
}

// newVM writes the stub runner into the container, creates the VM from
// it and removes it when the test ends, whatever happened.
func newVM(t *testing.T, c *systemdtest.Container, name string, s stub) *vm {
	t.Helper()
	v := &vm{t: t, c: c, name: name}
	dir := v.writeStub(s)
	t.Cleanup(func() {
		try(c, "systemctl", "stop", v.unit())
		try(c, "systemctl", "reset-failed", "microvm*@"+name+".service")
		// systemctl stop returns before the helpers' teardown.
		for i := 0; i < 100 && exists(c, v.dir()+"/booted"); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		try(c, "microvm", "remove", "--force", name)
		try(c, "rm", "-rf", dir)
	})
	v.microvm("create", name, "--from", dir)
	return v
}

// writeStub writes the stub runner's package and returns its directory.
func (v *vm) writeStub(s stub) string {
	v.t.Helper()
	dir := "/root/runners/" + v.name
	exit := ""
	switch {
	case s.exitCode != 0:
		exit = fmt.Sprintf(`echo "stub: crashing with %d"; exit %d`, s.exitCode, s.exitCode)
	case s.rebootOnce:
		// Not at once: microvm start counts a hypervisor that exits
		// within a second as one that could not run.
		exit = `[ -e rebooted ] || { : > rebooted; sleep 2.5; echo "stub: rebooting"; exit 0; }`
	}
	if s.version == "" {
		s.version = "1"
	}
	r := strings.NewReplacer("{{VERSION}}", s.version, "{{EXIT}}", exit,
		"{{TAPS}}", strings.Join(s.taps, " "), "{{MACVTAPS}}", strings.Join(s.macvtaps, " "))
	files := map[string]string{
		"bin/microvm-run":      r.Replace(stubRun),
		"bin/microvm-shutdown": stubShutdown,
	}
	if len(s.taps) > 0 {
		files["share/microvm/tap-interfaces"] = strings.Join(s.taps, "\n") + "\n"
		files["share/microvm/tap-flags"] = "vnet_hdr\n"
	}
	for i, m := range s.macvtaps {
		files["share/microvm/macvtap-interfaces"] += fmt.Sprintf("%s 02:00:00:00:%02x:01 mvt-parent bridge\n", m, i)
	}
	if s.share {
		files["share/microvm/virtiofs/data/source"] = v.dir() + "/data\n"
		files["share/microvm/virtiofs/data/socket"] = v.name + "-virtiofs-data.sock\n"
	}
	for f, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(f, "bin/") {
			mode = 0o755
		}
		if err := v.c.WriteFile(path.Join(dir, f), []byte(content), mode); err != nil {
			v.t.Fatal(err)
		}
	}
	return dir
}
