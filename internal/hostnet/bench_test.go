package hostnet

import (
	"fmt"
	"testing"
)

// BenchmarkSetupTeardown4Taps is one VM with 4 taps as qemu with vcpu > 1
// wants them (multi_queue, vnet_hdr, owned by the VM user), created and
// deleted. scripts/bench-hostnet.sh compares it with microvm.nix's
// one-`ip`-process-per-step tap-up/tap-down (`user nobody`, so no group).
func BenchmarkSetupTeardown4Taps(b *testing.B) {
	e := newEnv(b)
	var taps []Tap
	var names []string
	for i := range 4 {
		n := fmt.Sprintf("vm-bench-%d", i)
		taps = append(taps, Tap{Name: n, Owner: nobody, VnetHdr: true, MultiQueue: true})
		names = append(names, n)
	}
	for b.Loop() {
		if err := e.host.SetupTaps("bench", taps); err != nil {
			b.Fatal(err)
		}
		if err := e.host.TeardownTaps("bench", names); err != nil {
			b.Fatal(err)
		}
	}
}
