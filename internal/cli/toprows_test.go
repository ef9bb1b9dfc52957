package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/metrics"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// TestTopRows: rates come from two samples of the same run only; a
// restart in between, a counter that went back, or a VM without taps is
// unknown, not zero or negative.
func TestTopRows(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	started := t0.Add(-time.Hour)
	run := func(at time.Time, pid int, started time.Time, cpu float64, rx, tx, io uint64) metrics.VMSample {
		return metrics.VMSample{Name: "web", Time: at, Running: true, PID: pid, Started: started, CPUSeconds: cpu, RSSBytes: 3 << 20,
			Net: []metrics.NetSample{{Interface: "vm-web", RxBytes: rx, TxBytes: tx}, {Interface: "gone", Missing: true, RxBytes: 1 << 40}}, IOReadBytes: io}
	}
	sts := []manager.Status{{Status: supervisor.Status{Name: "web", State: supervisor.Running, Restarts: 2}}, {Status: supervisor.Status{Name: "off", State: supervisor.Stopped}}}
	prev := map[string]metrics.VMSample{"web": run(t0, 10, started, 100, 1000, 2000, 0)}

	rows := topRows(sts, []metrics.VMSample{run(t0.Add(2*time.Second), 10, started, 101, 5096, 2000, 4096), {Name: "off", Time: t0}}, prev)
	if len(rows) != 2 {
		t.Fatalf("rows: %+v", rows)
	}
	web, off := rows[0], rows[1]
	if web.CPU != 50 || web.Rx != 2048 || web.Tx != 0 || web.Disk != 2048 || web.Mem != 3<<20 || web.Uptime != time.Hour+2*time.Second || web.Restarts != 2 {
		t.Errorf("web: %+v", web)
	}
	if got := strings.Join(web.cells(), " "); got != "web running 50.0 3.0M 2.0K 0 2.0K 1h00m 2" {
		t.Errorf("web's cells: %s", got)
	}
	if got := strings.Join(off.cells(), " "); got != "off stopped - - - - - - 0" {
		t.Errorf("off's cells: %s", got)
	}

	// Restarted in between: a new pid, counters from zero.
	rows = topRows(sts[:1], []metrics.VMSample{run(t0.Add(2*time.Second), 11, t0.Add(time.Second), 0.5, 10, 10, 0)}, prev)
	if w := rows[0]; w.CPU != -1 || w.Rx != -1 || w.Disk != -1 || w.Mem != 3<<20 {
		t.Errorf("after a restart: %+v", w)
	}
	// Same run, a tap recreated: its counter went back.
	rows = topRows(sts[:1], []metrics.VMSample{run(t0.Add(time.Second), 10, started, 100.5, 10, 3000, 0)}, prev)
	if w := rows[0]; w.Rx != -1 || w.Tx != 1000 || w.CPU != 50 {
		t.Errorf("after a tap was recreated: %+v", w)
	}
	// No taps: unknown. First sample: no rates.
	bare := run(t0.Add(time.Second), 10, started, 100.5, 0, 0, 0)
	bare.Net = nil
	if w := topRows(sts[:1], []metrics.VMSample{bare}, prev)[0]; w.Rx != -1 || w.Tx != -1 {
		t.Errorf("without taps: %+v", w)
	}
	if w := topRows(sts[:1], []metrics.VMSample{bare}, nil)[0]; w.CPU != -1 || w.Disk != -1 || w.Mem != 3<<20 {
		t.Errorf("first sample: %+v", w)
	}
}

// TestSortTopRows: numbers largest first, names and states A to Z, the
// same key again reverses, unknowns last either way, ties by name.
func TestSortTopRows(t *testing.T) {
	rows := []topRow{
		{Name: "c", State: "running", CPU: 5, Restarts: 1},
		{Name: "a", State: "stopped", CPU: -1},
		{Name: "b", State: "running", CPU: 50, Restarts: 1},
		{Name: "d", State: "running", CPU: 5},
	}
	names := func() string {
		var s []string
		for _, r := range rows {
			s = append(s, r.Name)
		}
		return strings.Join(s, "")
	}
	col := func(name string) int {
		i, err := topSortNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	for _, tc := range []struct {
		col  string
		desc bool
		want string
	}{
		{"cpu", true, "bcda"},
		{"cpu", false, "cdba"},
		{"name", false, "abcd"},
		{"name", true, "dcba"},
		{"state", false, "bcda"},
		{"restarts", true, "bcad"},
	} {
		sortTopRows(rows, col(tc.col), tc.desc)
		if got := names(); got != tc.want {
			t.Errorf("by %s (desc %v): %s, want %s", tc.col, tc.desc, got, tc.want)
		}
	}
	if _, err := topSortNamed("bogus"); err == nil || ExitCode(err) != ExitUsage {
		t.Errorf("--sort bogus: %v", err)
	}
}

func TestHumanUnits(t *testing.T) {
	for n, want := range map[float64]string{0: "0", 1023: "1023", 1024: "1.0K", 1536: "1.5K", 10 << 10: "10K", 3 << 30: "3.0G", 1 << 60: "1.0E"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%v) = %s, want %s", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{42 * time.Second: "42s", 312 * time.Second: "5m12s", 2*time.Hour + 5*time.Minute: "2h05m", 76 * time.Hour: "3d04h"} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %s, want %s", d, got, want)
		}
	}
}
