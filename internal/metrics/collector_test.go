package metrics

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/supervisor"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// exposition is what reg exposes, in the text format.
func exposition(t *testing.T, reg prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// testCollector has a running VM "vm" (TestSampleProc's), a stopped one
// that crashed last, and one that was removed after a start was timed.
func testCollector(t *testing.T) *Collector {
	d := newState(t)
	vmDir := addVM(t, d, "vm", crosvmRunner())
	addVM(t, d, "off", &runner.Package{Runner: runner.Runner{Meta: &runner.Meta{Hypervisor: "firecracker"}}})
	pid := runIn(t, vmDir, "sleep", "100").Process.Pid
	proc := t.TempDir()
	fakeTree(t, proc, procFiles(pid, "0::/\n"))
	code := 139
	c := NewCollector(&Sampler{State: d, Proc: proc, Cgroup: t.TempDir()}, func(context.Context) ([]supervisor.Status, error) {
		return []supervisor.Status{
			{Name: "off", State: supervisor.Failed, Restarts: 5, Exit: &supervisor.Outcome{How: supervisor.Crashed, Code: &code}},
			{Name: "vm", State: supervisor.Running, Restarts: 1, Exit: &supervisor.Outcome{How: supervisor.Rebooted}},
		}, nil
	})
	c.StartTimed("vm", false, 1200*time.Millisecond)
	c.StartTimed("vm", true, 3*time.Second)
	c.StartTimed("removed", false, time.Second)
	return c
}

// TestCollectorGolden: every metric of a running and a stopped VM;
// `go test -update` rewrites testdata/collector.golden.
func TestCollectorGolden(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(testCollector(t))
	got := exposition(t, reg)
	const golden = "testdata/collector.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("exposition (-want +got):\n%s", diff)
	}
	if strings.Contains(string(got), `name="removed"`) {
		t.Error("the start histogram of a VM that no longer exists is still exposed")
	}
}

// TestPromtoolCheckMetrics: promtool, Prometheus's own linter, finds
// nothing to say about what the daemon exposes.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not on PATH; install Debian's prometheus package (scripts/install-deps.sh) to lint the metrics")
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(testCollector(t), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition(t, reg))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestCollectorFailure: a supervisor that cannot say fails the scrape
// with its reason instead of exposing every VM as stopped.
func TestCollectorFailure(t *testing.T) {
	c := NewCollector(NewSampler(newState(t), "", nil), func(context.Context) ([]supervisor.Status, error) {
		return nil, errors.New("systemd does not answer")
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "systemd does not answer") {
		t.Errorf("Gather: %v; want the supervisor's error", err)
	}
}
