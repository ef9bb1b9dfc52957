package apply

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

// BenchmarkPlan100 computes the plan of 100 declared VMs, each created by
// apply from a runner directory of its own and up to date (the plan of
// every SIGHUP that changes nothing): listing the state directory,
// parsing each source, and hashing each runner to compare it with
// current, as list does.
//
//	go test -run '^$' -bench Plan100 ./internal/apply/
func BenchmarkPlan100(b *testing.B) {
	root := b.TempDir()
	d, err := state.Open(filepath.Join(root, "state"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := &hostconfig.Config{VM: map[string]hostconfig.VM{}}
	for i := range 100 {
		name := fmt.Sprintf("vm%03d", i)
		src := writeRunner(b, filepath.Join(root, "src", name), name)
		makeVM(b, d, name, src, state.OwnerApply)
		cfg.VM[name] = hostconfig.VM{Source: src, RestartIfChanged: true}
	}
	w := World{Expect: &source.Builder{}, StorePath: d.StorePath}
	b.ReportAllocs()
	for b.Loop() {
		vms, err := d.List()
		if err != nil {
			b.Fatal(err)
		}
		p := Compute(context.Background(), cfg, vms, w)
		if len(p.Steps) != 100 || p.Changes() != 0 {
			b.Fatalf("plan:\n%s", p)
		}
	}
}
