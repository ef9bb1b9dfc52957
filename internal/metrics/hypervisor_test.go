package metrics

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// startQemu runs a qemu without a guest in vmDir, as a generated runner
// would: its events monitor at qemu.EventsSocket, a disk vda and a
// balloon. It returns the events socket once it listens.
func startQemu(t *testing.T, vmDir string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 is not on PATH; install qemu-system-x86 to test against a real qemu")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := runIn(t, vmDir, bin, "-machine", "microvm,accel=tcg", "-m", "256", "-nodefaults", "-display", "none",
		"-chardev", "socket,id=events,path="+qemu.EventsSocket+",server=on,wait=off", "-mon", "chardev=events,mode=control",
		"-drive", "id=vda,format=raw,file="+img+",if=none", "-device", "virtio-blk-device,drive=vda",
		"-device", "virtio-balloon-device")
	events := filepath.Join(vmDir, qemu.EventsSocket)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(events); err == nil {
			return cmd, events
		}
		if time.Now().After(deadline) {
			t.Fatal("qemu did not open its events socket in 10 s")
		}
	}
}

func qemuRunner() *runner.Package {
	return &runner.Package{Runner: runner.Runner{Meta: &runner.Meta{Hypervisor: "qemu"}}}
}

var qemuDisks = []DiskSample{{Device: "vda"}}

// TestQemuStatsFromMonitor: under the daemon, the monitor that holds the
// events monitor answers for qemu; without it, the sample says so.
func TestQemuStatsFromMonitor(t *testing.T) {
	d := newState(t)
	vmDir := addVM(t, d, "vm", qemuRunner())
	_, events := startQemu(t, vmDir)
	runtime := t.TempDir()
	s := &Sampler{State: d, Runtime: runtime}

	got := s.SampleVM(t.Context(), "vm")
	if got.Disks != nil || len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "no monitor serves them") {
		t.Errorf("without a monitor: disks %+v, problems %q; want none, and why", got.Disks, got.Problems)
	}

	conn, err := net.Dial("unix", events)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := control.NewQMPWatch(conn)
	go w.Run(t.Context())
	stop, err := ServeStats(StatsSocket(runtime, "vm"), w)
	if err != nil {
		t.Fatal(err)
	}
	got = s.SampleVM(t.Context(), "vm")
	if diff := cmp.Diff(qemuDisks, got.Disks); diff != "" || got.BalloonBytes == nil || *got.BalloonBytes != 256<<20 || len(got.Problems) > 0 {
		t.Errorf("disks (-want +got):\n%s\nballoon %v, problems %q; want 256 MiB, none", diff, got.BalloonBytes, got.Problems)
	}
	if fi, err := os.Stat(StatsSocket(runtime, "vm")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("stats socket: %v, %v; want mode 0600", fi, err)
	}
	stop()
	if _, err := os.Stat(StatsSocket(runtime, "vm")); !os.IsNotExist(err) {
		t.Errorf("stats socket after stop: %v; want it gone", err)
	}
}

// TestQemuStatsUnderSystemd: no one holds a systemd VM's events monitor,
// so the sampler asks it directly, for the moment of the question.
func TestQemuStatsUnderSystemd(t *testing.T) {
	d := newState(t)
	vmDir := addVM(t, d, "vm", qemuRunner())
	cmd, _ := startQemu(t, vmDir)
	pid := cmd.Process.Pid
	if err := state.RemoveProcess(vmDir); err != nil { // systemd records none
		t.Fatal(err)
	}
	proc := t.TempDir()
	files := procFiles(pid, "0::/system.slice/microvm@vm.service\n")
	files[fmt.Sprintf("%d/stat", pid)] = statLine(pid, "qemu-system-x86", 1, 1, 1, 1)
	fakeTree(t, proc, files)
	s := &Sampler{State: d, Runtime: t.TempDir(), Proc: proc, Cgroup: t.TempDir()}
	for range 2 { // and again: the first question left the monitor free
		got := s.sampleOne(t.Context(), "vm", pid)
		if diff := cmp.Diff(qemuDisks, got.Disks); diff != "" || got.BalloonBytes == nil || *got.BalloonBytes != 256<<20 {
			t.Errorf("disks (-want +got):\n%s\nballoon %v, problems %q; want 256 MiB", diff, got.BalloonBytes, got.Problems)
		}
	}
}

// TestCloudHypervisorCounters: vm.counters on the API socket its command
// line names; the network devices in it are not disks.
func TestCloudHypervisorCounters(t *testing.T) {
	d := newState(t)
	vmDir := addVM(t, d, "vm", &runner.Package{Runner: runner.Runner{Meta: &runner.Meta{Hypervisor: "cloud-hypervisor"}}})
	pid := runIn(t, vmDir, "sleep", "100").Process.Pid
	ln, err := net.Listen("unix", filepath.Join(vmDir, "vm.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/vm.counters" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"_disk0": {"read_bytes": 10, "write_bytes": 20, "read_ops": 1, "write_ops": 2},
			"_net1": {"rx_bytes": 5, "tx_bytes": 6}, "_disk1": {"read_bytes": 3, "write_bytes": 0, "read_ops": 1, "write_ops": 0}}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	proc := t.TempDir()
	files := procFiles(pid, "0::/\n")
	files[fmt.Sprintf("%d/cmdline", pid)] = strings.Join([]string{"cloud-hypervisor", "--memory", "size=256M", "--api-socket", "path=vm.sock", ""}, "\x00")
	fakeTree(t, proc, files)
	got := (&Sampler{State: d, Proc: proc}).SampleVM(t.Context(), "vm")
	want := []DiskSample{{Device: "_disk0", ReadBytes: 10, WriteBytes: 20, ReadOps: 1, WriteOps: 2}, {Device: "_disk1", ReadBytes: 3, ReadOps: 1}}
	if diff := cmp.Diff(want, got.Disks); diff != "" || len(got.Problems) > 0 {
		t.Errorf("disks (-want +got):\n%s\nproblems %q", diff, got.Problems)
	}
}

func TestAPISocketOf(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"cloud-hypervisor", "--api-socket", "vm.sock"}, "/vms/a/vm.sock"},
		{[]string{"cloud-hypervisor", "--api-socket=path=/run/ch.sock"}, "/run/ch.sock"},
		{[]string{"cloud-hypervisor", "--api-socket", "path=x.sock,fd=3"}, ""},
		{[]string{"cloud-hypervisor", "--api-socket", "fd=3"}, ""},
		{[]string{"cloud-hypervisor", "--kernel", "k"}, ""},
		{[]string{"cloud-hypervisor", "--api-socket"}, ""},
	} {
		if got := apiSocketOf(tc.argv, "/vms/a"); got != tc.want {
			t.Errorf("apiSocketOf(%q) = %q; want %q", tc.argv, got, tc.want)
		}
	}
}
