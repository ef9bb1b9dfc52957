package metrics

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// BenchmarkScrape200 is one scrape of 200 running stub VMs (a sleep
// each, a tap and a share in their runner): sampling every process, the
// exposition and its encoding. scripts/bench-metrics.sh times the same
// through a real daemon, and its CPU between scrapes.
func BenchmarkScrape200(b *testing.B) {
	const n = 200
	d, err := state.Open(filepath.Join(b.TempDir(), "state"))
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(b.TempDir(), "runner")
	err = runner.Write(src, &runner.Package{
		Runner:  runner.Runner{Taps: []string{"stub-tap"}, Shares: []runner.Share{{Tag: "data", Source: "/srv", Socket: "data.sock"}}},
		Scripts: []runner.Script{{Name: "microvm-run", Content: []byte("#!/bin/sh\nexec sleep 1000\n")}},
	})
	if err != nil {
		b.Fatal(err)
	}
	stored, release, err := d.Import(b.Context(), src)
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	statuses := make([]supervisor.Status, n)
	for i := range n {
		name := fmt.Sprintf("vm%03d", i)
		st, err := d.Stage(name)
		if err != nil {
			b.Fatal(err)
		}
		st.SetLink(state.CurrentLink, stored)
		st.SetLink(state.BootedLink, stored)
		if err := st.Commit(-1); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("sleep", "1000")
		cmd.Dir = d.VMPath(name)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		p, err := state.ProcessOf(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		if err := state.WriteProcess(d.VMPath(name), p); err != nil {
			b.Fatal(err)
		}
		statuses[i] = supervisor.Status{Name: name, State: supervisor.Running, PID: p.PID}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(NewSampler(d, "", nil), func(context.Context) ([]supervisor.Status, error) { return statuses, nil }))
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeOpenMetrics))
		for _, mf := range mfs {
			enc.Encode(mf)
		}
	}
}
