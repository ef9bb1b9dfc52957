package manager

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// TestFor: the one decision of who manages a VM.
func TestFor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		daemon  bool
		systemd bool
		unit    string // ActiveState of our microvm@vm; "" not installed; "other" installed for another state dir
		job     bool   // a job is queued for microvm@vm
		want    Kind
	}{
		{"nothing", false, false, "", false, None},
		{"daemon only", true, false, "", false, Daemon},
		{"systemd without units", false, true, "", false, None},
		{"systemd, units installed", false, true, "inactive", false, Systemd},
		{"units of another state directory", false, true, "other", false, None},
		{"both, unit inactive: the daemon", true, true, "inactive", false, Daemon},
		{"both, unit active: systemd runs it", true, true, "active", false, Systemd},
		{"both, unit failed: systemd has its record", true, true, "failed", false, Systemd},
		{"both, unit starting", true, true, "inactive", true, Systemd},
		{"both, units of another state directory", true, true, "other", false, Daemon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testState(t, "vm")
			h := &Host{State: d, none: &unmanaged{state: d}}
			if tc.daemon {
				h.daemon = &fakeDaemon{}
			}
			if tc.systemd {
				b := newFakeBus()
				switch tc.unit {
				case "":
				case "other":
					b.set(Unit("vm"), map[string]any{"WorkingDirectory": "/elsewhere/vm"})
				default:
					ourUnit(b, d, "vm", tc.unit)
				}
				if tc.job {
					b.set(Unit("vm"), map[string]any{"Job": []any{uint32(7), "/org/freedesktop/systemd1/job/7"}})
				}
				var q []string
				h.systemd = testSystemd(b, d, t.TempDir(), "", &q)
			}
			m, err := h.For(context.Background(), "vm")
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind() != tc.want {
				t.Errorf("For = %s, want %s", m.Kind(), tc.want)
			}
			if _, err := h.For(context.Background(), "nosuch"); !errors.Is(err, state.ErrNotExist) {
				t.Errorf("For(nosuch) = %v, want ErrNotExist", err)
			}
		})
	}
}

// TestUnmanaged: nothing supervises the VM: start and restart say so
// (callers know api.ErrNoDaemon), stop leaves it to the caller.
func TestUnmanaged(t *testing.T) {
	d := testState(t, "vm")
	u := &unmanaged{state: d}
	err := u.Start(context.Background(), "vm")
	if !errors.Is(err, api.ErrNoDaemon) || !strings.Contains(err.Error(), "systemd does not manage it") {
		t.Errorf("Start = %v", err)
	}
	if _, err := u.Stop(context.Background(), "vm", supervisor.Ladder{Timeout: time.Second}); !errors.Is(err, ErrUnmanaged) {
		t.Errorf("Stop = %v, want ErrUnmanaged", err)
	}
}

// TestSystemdStart: a manual start resets the unit's failed state (and
// with it the start limit) and waits for the job.
func TestSystemdStart(t *testing.T) {
	d := testState(t, "vm")
	b := newFakeBus()
	ourUnit(b, d, "vm", "inactive")
	b.onJob = func(verb, unit string) {
		b.set(unit, map[string]any{"ActiveState": "active", "InvocationID": []byte{1}})
	}
	var q []string
	m := testSystemd(b, d, t.TempDir(), "", &q)
	if err := m.Start(context.Background(), "vm"); err != nil {
		t.Fatal(err)
	}
	if n := b.reads[Unit("vm")]; n < 5 {
		t.Errorf("microvm@vm read %d times: Start did not watch the hypervisor run", n)
	}
	if got := strings.Join(b.jobs, ", "); got != "reset-failed microvm@vm.service, start microvm@vm.service" {
		t.Errorf("jobs: %s", got)
	}
	if err := m.Restart(context.Background(), "vm"); err != nil {
		t.Fatal(err)
	}
	if got := b.jobs[len(b.jobs)-1]; got != "restart microvm@vm.service" {
		t.Errorf("last job: %s", got)
	}
}

// TestSystemdStartEarlyExit: microvm@ is Type=simple, so its start job
// succeeds as soon as the hypervisor is forked; one that exits right
// after fails the start, with what it logged.
func TestSystemdStartEarlyExit(t *testing.T) {
	d := testState(t, "vm")
	b := newFakeBus()
	ourUnit(b, d, "vm", "inactive")
	b.onJob = func(verb, unit string) {
		b.set(unit, map[string]any{"ActiveState": "active", "InvocationID": []byte{0x42},
			"ExecMainCode": int32(cldExited), "ExecMainStatus": int32(1), "ExecMainExitTimestamp": uint64(1e15), "Result": "exit-code"})
		b.stateAfter = map[string]struct {
			n            int
			before, then string
		}{unit: {b.reads[unit] + 3, "active", "activating"}}
	}
	var q []string
	m := testSystemd(b, d, t.TempDir(), "qemu: could not open disk image data.img: Permission denied\n", &q)
	err := m.Start(context.Background(), "vm")
	for _, want := range []string{
		"microvm@vm.service started, but its hypervisor exited at once (crashed: exit status 1):",
		"    qemu: could not open disk image data.img: Permission denied",
		"_SYSTEMD_INVOCATION_ID=42",
	} {
		if err == nil || !strings.Contains(err.Error()+strings.Join(q, " "), want) {
			t.Errorf("Start = %v (journal queries %q); want %q", err, q, want)
		}
	}

	// systemd's timestamps decide, not when the exit was seen: a run
	// that lasted longer than runFor was no failed start, however late
	// it is noticed; one that did not is, however early.
	for _, tc := range []struct {
		ran  time.Duration
		fail bool
	}{{10 * time.Millisecond, true}, {time.Minute, false}} {
		start := uint64(1e15)
		b.onJob = func(verb, unit string) {
			b.set(unit, map[string]any{"ActiveState": "activating", "InvocationID": []byte{0x43},
				"ExecMainCode": int32(cldExited), "ExecMainStatus": int32(0), "Result": "success",
				"ExecMainStartTimestamp": start, "ExecMainExitTimestamp": start + uint64(tc.ran/time.Microsecond)})
			b.stateAfter = nil
		}
		if err := m.Start(context.Background(), "vm"); (err != nil) != tc.fail {
			t.Errorf("a run of %s: Start = %v, want failure %v", tc.ran, err, tc.fail)
		}
	}
}

// TestSystemdStartExplains: a start job that failed is reported with the
// units that failed and what their last run logged.
func TestSystemdStartExplains(t *testing.T) {
	d := testState(t, "vm")
	b := newFakeBus()
	ourUnit(b, d, "vm", "inactive")
	b.result["start microvm@vm.service"] = "dependency"
	b.set("microvm-tap-interfaces@vm.service", map[string]any{
		"ActiveState": "failed", "Result": "exit-code",
		"InvocationID": []byte{0xab, 0xcd},
	})
	var q []string
	m := testSystemd(b, d, t.TempDir(), "microvm: interface \"vm-a\" exists and is a veth\n", &q)
	err := m.Start(context.Background(), "vm")
	if err == nil {
		t.Fatal("Start succeeded")
	}
	for _, want := range []string{
		`systemd's start job for microvm@vm.service ended "dependency"`,
		"microvm-tap-interfaces@vm.service failed (exit-code)",
		`    microvm: interface "vm-a" exists and is a veth`,
		"microvm logs vm",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error has no %q:\n%v", want, err)
		}
	}
	if len(q) != 1 || !strings.Contains(q[0], "_SYSTEMD_INVOCATION_ID=abcd") {
		t.Errorf("journal queries: %q, want the failed run's invocation", q)
	}
}

// TestSystemdStop: stop waits for the helpers' teardown (set-booted is
// the last) and says how the hypervisor ended; from the record once
// systemd has unloaded the unit.
func TestSystemdStop(t *testing.T) {
	d := testState(t, "vm")
	runtime := t.TempDir()
	b := newFakeBus()
	ourUnit(b, d, "vm", "active")
	b.set("microvm-set-booted@vm.service", map[string]any{"ActiveState": "active"})
	b.stateAfter = map[string]struct {
		n            int
		before, then string
	}{"microvm-set-booted@vm.service": {3, "deactivating", "inactive"}}
	b.onJob = func(verb, unit string) {
		if verb == "stop" {
			// systemd unloads the stopped unit: its exit is gone.
			b.set(unit, map[string]any{"ActiveState": "inactive", "ExecMainCode": int32(0)})
		}
	}
	if err := WriteUnitExit(runtime, "vm", UnitExit{Code: "exited", Status: "0", Result: "success", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var q []string
	m := testSystemd(b, d, runtime, "", &q)
	how, err := m.Stop(context.Background(), "vm", supervisor.Ladder{Timeout: time.Minute})
	if err != nil || how != "the hypervisor exited with status 0" {
		t.Errorf("Stop = %q, %v", how, err)
	}
	if n := b.reads["microvm-set-booted@vm.service"]; n < 4 {
		t.Errorf("set-booted read %d times: Stop did not wait for the teardown", n)
	}
	// Stopped already: ErrNotRunning, after making sure.
	if _, err := m.Stop(context.Background(), "vm", supervisor.Ladder{Timeout: time.Minute}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Stop = %v, want ErrNotRunning", err)
	}
}

// TestUnitStatus maps what systemd says of microvm@NAME to a Status.
func TestUnitStatus(t *testing.T) {
	enter := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	us := uint64(enter.UnixMicro())
	for _, tc := range []struct {
		name   string
		props  map[string]any
		booted bool
		rec    *UnitExit
		want   supervisor.Status
	}{
		{"running", map[string]any{"ActiveState": "active", "MainPID": uint32(42), "NRestarts": uint32(2), "ActiveEnterTimestamp": us, "StateChangeTimestamp": us + 5},
			true, &UnitExit{Code: "exited", Status: "0"},
			supervisor.Status{State: supervisor.Running, PID: 42, Restarts: 2, Since: enter, Wanted: true, LastExit: "the hypervisor exited with status 0"}},
		{"crash-looped", map[string]any{"ActiveState": "failed", "NRestarts": uint32(5), "ExecMainCode": int32(cldExited), "ExecMainStatus": int32(3),
			"ExecMainExitTimestamp": us, "StateChangeTimestamp": us, "Result": "exit-code", "Restart": "always", "StartLimitBurst": uint32(5), "StartLimitIntervalUSec": uint64(600e6)},
			false, nil,
			supervisor.Status{State: supervisor.Failed, Restarts: 5, Since: enter, LastExit: "crashed: exit status 3; not restarted: 5 starts within 10m0s (StartLimitBurst)"}},
		{"failed, never restarts", map[string]any{"ActiveState": "failed", "ExecMainCode": int32(cldKilled), "ExecMainStatus": int32(9),
			"ExecMainExitTimestamp": us, "Result": "signal", "Restart": "no"},
			false, nil, supervisor.Status{State: supervisor.Failed, LastExit: "killed by SIGKILL"}},
		{"refused start", map[string]any{"ActiveState": "failed", "Result": "start-limit-hit", "Restart": "always"},
			false, nil, supervisor.Status{State: supervisor.Failed, LastExit: "not started: too many starts (StartLimitBurst)"}},
		{"unloaded after a stop", map[string]any{"ActiveState": "inactive"},
			false, &UnitExit{Code: "killed", Status: "TERM", Result: "success", Time: enter},
			supervisor.Status{State: supervisor.Stopped, Since: enter, LastExit: "killed by SIGTERM"}},
		{"booted, nothing runs", map[string]any{"ActiveState": "inactive"},
			true, nil, supervisor.Status{State: supervisor.Broken}},
		{"helpers starting", map[string]any{"ActiveState": "inactive", "Job": []any{uint32(3), "/job/3"}},
			true, nil, supervisor.Status{State: supervisor.Starting, Wanted: true}},
		{"waiting to restart", map[string]any{"ActiveState": "activating", "SubState": "auto-restart"},
			true, nil, supervisor.Status{State: supervisor.Starting, Wanted: true}},
		{"stopping", map[string]any{"ActiveState": "deactivating"},
			true, nil, supervisor.Status{State: supervisor.Stopping}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testState(t, "vm")
			b := newFakeBus()
			b.set(Unit("vm"), tc.props)
			var q []string
			m := testSystemd(b, d, t.TempDir(), "", &q)
			u, err := m.props(context.Background(), Unit("vm"))
			if err != nil {
				t.Fatal(err)
			}
			vm := state.VM{Name: "vm"}
			if tc.booted {
				vm.Booted = "/store/x"
			}
			got := u.status(vm, tc.rec)
			tc.want.Name = "vm"
			if !got.Since.Equal(tc.want.Since) {
				t.Errorf("Since = %v, want %v", got.Since, tc.want.Since)
			}
			got.Since, tc.want.Since = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("status = %+v\nwant     %+v", got, tc.want)
			}
		})
	}
}

// TestUnitExitString: the words for how a hypervisor ended.
func TestUnitExitString(t *testing.T) {
	for _, tc := range []struct {
		e    UnitExit
		want string
	}{
		{UnitExit{Code: "exited", Status: "0", Result: "success"}, "the hypervisor exited with status 0"},
		{UnitExit{Code: "exited", Status: "1", Result: "exit-code"}, "crashed: exit status 1"},
		{UnitExit{Code: "killed", Status: "TERM", Result: "success"}, "killed by SIGTERM"},
		{UnitExit{Code: "dumped", Status: "SEGV", Result: "core-dump"}, "crashed: killed by SIGSEGV (core dumped)"},
		{UnitExit{Code: "killed", Status: "KILL", Result: "timeout"}, "killed by SIGKILL; timed out"},
		{UnitExit{Result: "resources"}, "systemd could not set up its process"},
		{UnitExit{}, ""},
	} {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
	runtime := t.TempDir()
	if _, ok := ReadUnitExit(runtime, "vm"); ok {
		t.Error("a record without WriteUnitExit")
	}
	in := UnitExit{Code: "exited", Status: "3", Result: "exit-code", Time: time.Now().UTC().Round(time.Second)}
	if err := WriteUnitExit(runtime, "vm", in); err != nil {
		t.Fatal(err)
	}
	if out, ok := ReadUnitExit(runtime, "vm"); !ok || !out.Time.Equal(in.Time) || out.String() != "crashed: exit status 3" {
		t.Errorf("read back %+v, %v", out, ok)
	}
}

// TestSystemdLogs: logs is journalctl on the VM's units, -n and -f as
// the console log's.
func TestSystemdLogs(t *testing.T) {
	d := testState(t, "vm")
	for _, tc := range []struct {
		o    LogOptions
		want string
	}{
		{LogOptions{}, "--no-pager --unit=microvm@vm.service --unit=microvm-set-booted@vm.service --unit=microvm-tap-interfaces@vm.service --unit=microvm-macvtap-interfaces@vm.service --unit=microvm-pci-devices@vm.service --unit=microvm-virtiofsd@vm.service"},
		{LogOptions{Lines: 3}, "--lines=3"},
		{LogOptions{Follow: true}, "--lines=all --follow"},
		{LogOptions{Lines: 2, Follow: true}, "--lines=2 --follow"},
	} {
		var q []string
		m := testSystemd(newFakeBus(), d, t.TempDir(), "a line\n", &q)
		var out strings.Builder
		if err := m.Logs(context.Background(), "vm", tc.o, &out); err != nil {
			t.Fatal(err)
		}
		if len(q) != 1 || !strings.HasSuffix(q[0], tc.want) || out.String() != "a line\n" {
			t.Errorf("%+v: journalctl %q, output %q; want args ending %q", tc.o, q, out.String(), tc.want)
		}
	}
}

// TestHostStatuses: each VM from whoever manages it; the systemd one
// from its unit, the other from the state directory.
func TestHostStatuses(t *testing.T) {
	d := testState(t, "a", "b")
	b := newFakeBus()
	ourUnit(b, d, "a", "active")
	b.set(Unit("a"), map[string]any{"MainPID": uint32(7)})
	b.set(Unit("b"), map[string]any{"WorkingDirectory": "/other/b"})
	var q []string
	h := &Host{State: d, none: &unmanaged{state: d}, systemd: testSystemd(b, d, t.TempDir(), "", &q)}
	sts, err := h.Statuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || sts[0].Name != "a" || sts[0].ManagedBy != Systemd || sts[0].PID != 7 || sts[0].State != supervisor.Running ||
		sts[1].Name != "b" || sts[1].ManagedBy != None || sts[1].State != supervisor.Broken {
		t.Errorf("Statuses = %+v", sts)
	}
	running, err := h.Running(context.Background())
	if err != nil || len(running) != 1 || !running["a"] {
		t.Errorf("Running = %v, %v", running, err)
	}
}
