package hostprep

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/hostnet"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/virtiofsd"
)

// BenchmarkSetupTeardown prepares and tears down a VM with 4 multi-queue
// taps and 2 virtiofs shares (real virtiofsd daemons, ready when both
// listen). It creates interfaces in the current network namespace, so it
// only runs when scripts/bench-hostprep.sh put it in a namespace of its
// own (MICROVM_BENCH_NETNS=1).
func BenchmarkSetupTeardown(b *testing.B) {
	if os.Getenv("MICROVM_BENCH_NETNS") != "1" {
		b.Skip("run through scripts/bench-hostprep.sh, which gives it a network namespace")
	}
	bin, _, err := virtiofsd.Find()
	if err != nil {
		b.Skip(err)
	}
	net, err := hostnet.New("/dev", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	vmDir := b.TempDir()
	r := &runner.Runner{Dir: vmDir, TapFlags: runner.TapFlags{VnetHdr: true, MultiQueue: true}}
	for i := range 4 {
		r.Taps = append(r.Taps, fmt.Sprintf("bench-tap%d", i))
	}
	for _, tag := range []string{"a", "b"} {
		r.Shares = append(r.Shares, runner.Share{Tag: tag, Source: filepath.Join("src", tag), Socket: tag + ".sock"})
	}
	p := &Prep{Net: net, Config: &hostconfig.Config{}, ID: Identity{UID: 65534, GID: 65534},
		Virtiofsd: virtiofsd.Config{Binary: bin, ThreadPoolSize: 2}}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := p.Setup(ctx, vmDir, r); err != nil {
			b.Fatal(err)
		}
		if err := p.Teardown(ctx, vmDir, r); err != nil {
			b.Fatal(err)
		}
	}
}
