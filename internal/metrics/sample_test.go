package metrics

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// crosvmRunner has two taps (one the host does not have), a macvtap and
// a share; crosvm has no disk counters, so nothing asks a hypervisor.
func crosvmRunner() *runner.Package {
	return &runner.Package{Runner: runner.Runner{
		Meta:     &runner.Meta{Hypervisor: "crosvm"},
		Taps:     []string{"vm-tap0", "vm-gone"},
		Macvtaps: []runner.Macvtap{{ID: "vm-mv0", MAC: "02:00:00:00:00:01", Link: "eth0", Mode: "bridge"}},
		Shares:   []runner.Share{{Tag: "data", Source: "/srv/data", Socket: "data.sock"}},
	}}
}

// procFiles is a /proc of a hypervisor pid, child of 4242, whose
// siblings 5000 and 5002 are virtiofsd (5000 with a sandbox child),
// 5001 is not; cgroup is its /proc/PID/cgroup.
func procFiles(pid int, cgroup string) map[string]string {
	p := func(f string) string { return fmt.Sprintf("%d/%s", pid, f) }
	return map[string]string{
		"stat":                    "cpu  1 2 3 4 5 6 7 8 9 10\nbtime 1700000000\n",
		p("stat"):                 statLine(pid, "crosvm", 4242, 250, 50, 1000),
		p("smaps_rollup"):         "00400000-7ffd [rollup]\nRss:                2048 kB\nPss:                1024 kB\n",
		p("io"):                   "rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n",
		p("cgroup"):               cgroup,
		"4242/task/4242/children": "5000 5001 ",
		"4242/task/4243/children": "5002",
		"5000/stat":               statLine(5000, "virtiofsd", 4242, 10, 10, 900),
		"5000/comm":               "virtiofsd\n",
		"5000/task/5000/children": "5003",
		"5003/stat":               statLine(5003, "virtiofsd", 5000, 5, 5, 901),
		"5001/stat":               statLine(5001, "crosvm", 4242, 1000, 0, 902),
		"5001/comm":               "crosvm\n",
		"5002/stat":               statLine(5002, "virtiofsd", 4242, 30, 0, 903),
		"5002/comm":               "virtiofsd\n",
		"net/dev": "Inter-|   Receive                                                |  Transmit\n" +
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
			"    lo: 9 9 0 0 0 0 0 0 9 9 0 0 0 0 0 0\n" +
			"vm-tap0: 100 2 0 1 0 0 0 0 200 3 1 0 0 0 0 0\n" +
			"vm-mv0: 300 4 0 0 0 0 0 0 400 5 0 2 0 0 0 0\n",
	}
}

// TestSampleProc: a VM run by the daemon or `microvm run`, from /proc:
// its process, its taps the guest's way round, its virtiofsd siblings.
func TestSampleProc(t *testing.T) {
	d := newState(t)
	vmDir := addVM(t, d, "vm", crosvmRunner())
	pid := runIn(t, vmDir, "sleep", "100").Process.Pid
	proc := t.TempDir()
	fakeTree(t, proc, procFiles(pid, "0::/user.slice/session-1.scope\n"))
	s := &Sampler{State: d, Proc: proc, Cgroup: t.TempDir()}
	got := s.SampleVM(t.Context(), "vm")
	want := VMSample{
		Name: "vm", Hypervisor: "crosvm", Running: true, PID: pid,
		Started: time.Unix(1700000010, 0), Source: SourceProc,
		CPUSeconds: 3, RSSBytes: 2 << 20, PSSBytes: 1 << 20, IOReadBytes: 4096, IOWriteBytes: 8192,
		Net: []NetSample{
			{Interface: "vm-tap0", Kind: "tap", RxBytes: 200, TxBytes: 100, RxPackets: 3, TxPackets: 2, RxErrors: 1, TxDropped: 1},
			{Interface: "vm-gone", Kind: "tap", Missing: true},
			{Interface: "vm-mv0", Kind: "macvtap", RxBytes: 300, TxBytes: 400, RxPackets: 4, TxPackets: 5, TxDropped: 2},
		},
		Virtiofsd: VirtiofsdSample{Shares: 1, Processes: 2, CPUSeconds: 0.6},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(VMSample{}, "Time"), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

// TestSampleSystemd: a VM run by systemd, from its units' cgroups; its
// process is systemd's MainPID, not recorded in the VM directory.
func TestSampleSystemd(t *testing.T) {
	d := newState(t)
	vmDir := addVM(t, d, "vm", crosvmRunner())
	pid := runIn(t, vmDir, "sleep", "100").Process.Pid
	if err := state.RemoveProcess(vmDir); err != nil {
		t.Fatal(err)
	}
	proc, cg := t.TempDir(), t.TempDir()
	files := procFiles(pid, "0::/system.slice/microvm@vm.service\n")
	files["6001/stat"] = statLine(6001, "virtiofsd", 6000, 1, 1, 1)
	files["6002/stat"] = statLine(6002, "virtiofsd", 6001, 1, 1, 1)
	files["6000/stat"] = statLine(6000, "microvm", 1, 1, 1, 1)
	fakeTree(t, proc, files)
	fakeTree(t, cg, map[string]string{
		"system.slice/microvm@vm.service/cpu.stat":                 "usage_usec 4500000\nuser_usec 4000000\nsystem_usec 500000\n",
		"system.slice/microvm@vm.service/memory.current":           "123456\n",
		"system.slice/microvm@vm.service/io.stat":                  "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n254:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n",
		"system.slice/microvm-virtiofsd@vm.service/cpu.stat":       "usage_usec 700000\n",
		"system.slice/microvm-virtiofsd@vm.service/cgroup.procs":   "6000\n6001\n6002\n",
		"system.slice/microvm-virtiofsd@vm.service/memory.current": "1\n",
	})
	s := &Sampler{State: d, Proc: proc, Cgroup: cg}
	if got := s.SampleVM(t.Context(), "vm"); got.Running {
		t.Errorf("without its MainPID: %+v; want not running, as the state directory says", got)
	}
	got := s.sampleOne(t.Context(), "vm", pid)
	if got.Source != SourceCgroup || got.CPUSeconds != 4.5 || got.IOReadBytes != 101 || got.IOWriteBytes != 202 || got.CgroupMemoryBytes != 123456 {
		t.Errorf("from the unit's cgroup: source %q, CPU %v, I/O %d/%d, memory %d; want cgroup, 4.5, 101/202, 123456",
			got.Source, got.CPUSeconds, got.IOReadBytes, got.IOWriteBytes, got.CgroupMemoryBytes)
	}
	if got.RSSBytes != 2<<20 || got.PSSBytes != 1<<20 {
		t.Errorf("RSS %d, PSS %d; want the process's, from smaps_rollup", got.RSSBytes, got.PSSBytes)
	}
	if want := (VirtiofsdSample{Shares: 1, Processes: 1, CPUSeconds: 0.7}); got.Virtiofsd != want {
		t.Errorf("virtiofsd %+v; want %+v (the unit's, its sandbox child not counted as a daemon)", got.Virtiofsd, want)
	}
	// systemd's own layout: each template's instances in a slice of
	// their own.
	sliced := t.TempDir()
	fakeTree(t, sliced, map[string]string{
		"system.slice/system-microvm.slice/microvm@vm.service/cpu.stat":                            "usage_usec 1000000\n",
		`system.slice/system-microvm\x2dvirtiofsd.slice/microvm-virtiofsd@vm.service/cpu.stat`:     "usage_usec 200000\n",
		`system.slice/system-microvm\x2dvirtiofsd.slice/microvm-virtiofsd@vm.service/cgroup.procs`: "6000\n6001\n6002\n",
	})
	fakeTree(t, proc, map[string]string{fmt.Sprintf("%d/cgroup", pid): "0::/system.slice/system-microvm.slice/microvm@vm.service\n"})
	s.Cgroup = sliced
	if got := s.sampleOne(t.Context(), "vm", pid); got.CPUSeconds != 1 || got.Virtiofsd != (VirtiofsdSample{Shares: 1, Processes: 1, CPUSeconds: 0.2}) {
		t.Errorf("in template slices: CPU %v, virtiofsd %+v; want 1, one daemon with 0.2", got.CPUSeconds, got.Virtiofsd)
	}
	fakeTree(t, proc, map[string]string{fmt.Sprintf("%d/cgroup", pid): "0::/system.slice/microvm@vm.service\n"})

	// A hybrid host's v2 cgroups have cpu.stat alone: I/O from /proc.
	hybrid := t.TempDir()
	fakeTree(t, hybrid, map[string]string{"system.slice/microvm@vm.service/cpu.stat": "usage_usec 4500000\n"})
	s.Cgroup = hybrid
	if got := s.sampleOne(t.Context(), "vm", pid); got.Source != SourceCgroup || got.CPUSeconds != 4.5 || got.IOReadBytes != 4096 || got.CgroupMemoryBytes != 0 {
		t.Errorf("from a cgroup with cpu.stat alone: source %q, CPU %v, read %d, memory %d; want cgroup, 4.5, /proc's 4096, none",
			got.Source, got.CPUSeconds, got.IOReadBytes, got.CgroupMemoryBytes)
	}
	// Without cgroup v2 files the process is the source.
	s.Cgroup = t.TempDir()
	if got := s.sampleOne(t.Context(), "vm", pid); got.Source != SourceProc || got.CPUSeconds != 3 {
		t.Errorf("without the unit's cgroup: source %q, CPU %v; want proc, 3", got.Source, got.CPUSeconds)
	}
}

// TestSampleRealProcess: on the real /proc, a busy hypervisor's CPU time
// grows between samples, and stopped VMs are sampled as such.
func TestSampleRealProcess(t *testing.T) {
	d := newState(t)
	busy := addVM(t, d, "busy", &runner.Package{Runner: runner.Runner{Meta: &runner.Meta{Hypervisor: "kvmtool"}}})
	addVM(t, d, "off", &runner.Package{Runner: runner.Runner{Meta: &runner.Meta{Hypervisor: "alioth"}}})
	gone := addVM(t, d, "gone", &runner.Package{})
	before := time.Now().Add(-time.Second)
	runIn(t, busy, "sh", "-c", "while :; do :; done")
	ended := runIn(t, gone, "sleep", "100")
	ended.Process.Kill()
	ended.Wait()
	s := NewSampler(d, "", nil)
	first, err := s.Sample(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Sample again until the busy loop has been given CPU time: on a
	// loaded machine that can take a while, so the bound only ends a
	// test that would otherwise hang.
	var second []VMSample
	for deadline := time.Now().Add(30 * time.Second); ; {
		time.Sleep(50 * time.Millisecond)
		if second, err = s.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(second) != 3 || second[0].Name != "busy" || second[1].Name != "gone" || second[2].Name != "off" {
			t.Fatalf("samples %+v; want busy, gone, off", second)
		}
		if second[0].CPUSeconds > first[0].CPUSeconds || time.Now().After(deadline) {
			break
		}
	}
	b0, b1 := first[0], second[0]
	if !b1.Running || b1.Hypervisor != "kvmtool" || b1.RSSBytes == 0 || b1.PSSBytes == 0 {
		t.Errorf("busy: %+v; want running kvmtool with its memory", b1)
	}
	if b1.CPUSeconds <= b0.CPUSeconds {
		t.Errorf("busy CPU %v s, then still %v s 30 s later; want it to grow", b0.CPUSeconds, b1.CPUSeconds)
	}
	if b1.Started.Before(before) || b1.Started.After(time.Now()) {
		t.Errorf("busy started %v; want after %v", b1.Started, before)
	}
	for _, vs := range second[1:] {
		if vs.Running || vs.PID != 0 || vs.CPUSeconds != 0 {
			t.Errorf("%s: %+v; want not running", vs.Name, vs)
		}
	}
	if second[2].Hypervisor != "alioth" {
		t.Errorf("off: hypervisor %q; want the runner's, alioth", second[2].Hypervisor)
	}
}

// TestRunnerOutsideStore: a booted link the VM user pointed at a runner
// of its own is not read: what it lists would be counted as the VM's.
func TestRunnerOutsideStore(t *testing.T) {
	d := newState(t)
	addVM(t, d, "vm", crosvmRunner())
	src := filepath.Join(t.TempDir(), "mine")
	mine := crosvmRunner()
	mine.Scripts = []runner.Script{{Name: "microvm-run", Content: []byte("#!/bin/sh\n")}}
	if err := runner.Write(src, mine); err != nil {
		t.Fatal(err)
	}
	if err := d.SetLink("vm", "booted", src); err != nil {
		t.Fatal(err)
	}
	got := NewSampler(d, "", nil).SampleVM(t.Context(), "vm")
	if got.Hypervisor != "" || len(got.Problems) != 1 {
		t.Errorf("sample %+v; want nothing from the runner, and why", got)
	}
}
