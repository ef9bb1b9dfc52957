package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

// BenchmarkList1000 lists 1000 VMs: ten runner sources with system links
// (one of them changed since, so its VMs are outdated), every VM linked
// into the store, half of them booted. scripts/bench-list.sh times the
// same against a shell loop of readlinks.
func BenchmarkList1000(b *testing.B) {
	root := filepath.Join(b.TempDir(), "state")
	if err := MakeBenchState(root, filepath.Join(filepath.Dir(root), "sources"), 1000); err != nil {
		b.Fatal(err)
	}
	d, _ := state.Open(root)
	e := &env{stdout: io.Discard, stderr: io.Discard, builder: &source.Builder{Stderr: io.Discard}}
	b.ReportAllocs()
	for b.Loop() {
		vms, err := d.List()
		if err != nil {
			b.Fatal(err)
		}
		printList(e, listEntries(context.Background(), e.builder, d, vms, e.checkSource, nil), func(string) string { return "microvm run" })
	}
}

// MakeBenchState builds the benchmark's state directory in root, with the
// runner sources in srcDir. Exported to the bench script via
// `go test -run TestMakeBenchState`.
func MakeBenchState(root, srcDir string, n int) error {
	d, err := state.Open(root)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var runners []string
	for i := range 10 {
		src := filepath.Join(srcDir, fmt.Sprintf("r%d", i))
		for _, p := range []string{"bin", "share/microvm"} {
			if err := os.MkdirAll(filepath.Join(src, p), 0o755); err != nil {
				return err
			}
		}
		os.WriteFile(filepath.Join(src, "bin/microvm-run"), []byte("#!/bin/sh\n"), 0o755)
		sys := filepath.Join(src, "share/microvm/system")
		os.Symlink(fmt.Sprintf("/nix/store/%032d-nixos-system-r%d", i, i), sys)
		p, release, err := d.Import(ctx, src)
		if err != nil {
			return err
		}
		// Released once the VMs link the entries: unlinked, they go.
		defer release()
		runners = append(runners, p)
		if i == 0 { // changed after import: its VMs are outdated
			os.Remove(sys)
			os.Symlink("/nix/store/00000000000000000000000000000000-nixos-system-r0-new", sys)
		}
	}
	for i := range n {
		name := fmt.Sprintf("vm%04d", i)
		if err := os.MkdirAll(d.VMPath(name), 0o755); err != nil {
			return err
		}
		r := i % len(runners)
		if err := d.SetLink(name, state.CurrentLink, runners[r]); err != nil {
			return err
		}
		if i%2 == 0 {
			if err := d.SetLink(name, state.BootedLink, runners[r]); err != nil {
				return err
			}
		}
		src := state.Source{Kind: state.SourceRunner, Ref: filepath.Join(srcDir, fmt.Sprintf("r%d", r))}
		if err := state.WriteSource(d.VMPath(name), src); err != nil {
			return err
		}
	}
	return nil
}

// TestMakeBenchState writes the benchmark state directory to
// $MICROVM_BENCH_DIR for scripts/bench-list.sh; without it, it checks
// that the benchmark's setup lists as intended.
func TestMakeBenchState(t *testing.T) {
	dir := os.Getenv("MICROVM_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	n := 100
	if v := os.Getenv("MICROVM_BENCH_VMS"); v != "" {
		fmt.Sscan(v, &n)
	}
	root := filepath.Join(dir, "state")
	if err := MakeBenchState(root, filepath.Join(dir, "sources"), n); err != nil {
		t.Fatal(err)
	}
	d, _ := state.Open(root)
	vms, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, le := range listEntries(context.Background(), &source.Builder{Stderr: io.Discard}, d, vms, func(state.Source) error { return nil }, nil) {
		counts[le.Status]++
	}
	want := map[string]int{statusOutdated: n / 10, statusCurrent: n/2 - n/10, statusNotBooted: n / 2}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", counts, want)
	}
}
