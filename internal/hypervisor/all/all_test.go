package all_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/runner"
)

func TestOrderMatchesMicrovmNix(t *testing.T) {
	var names []string
	for _, g := range all.Generators() {
		names = append(names, g.Name())
	}
	// The runner format lists the same names (meta.json's hypervisor),
	// in microvm.nix's order.
	if !slices.Equal(names, runner.Hypervisors) {
		t.Errorf("Generators() = %q, want runner.Hypervisors %q", names, runner.Hypervisors)
	}
}

func TestLookup(t *testing.T) {
	for _, g := range all.Generators() {
		got, err := all.Lookup(g.Name())
		if err != nil || got.Name() != g.Name() {
			t.Errorf("Lookup(%q) = %v, %v", g.Name(), got, err)
		}
	}
	_, err := all.Lookup("qemu-kvm")
	const want = `unknown hypervisor "qemu-kvm"; expected one of qemu, cloud-hypervisor, firecracker, crosvm, kvmtool, stratovirt, alioth`
	if err == nil || err.Error() != want {
		t.Errorf("Lookup(qemu-kvm) error = %v, want %s", err, want)
	}
}

// TestStandardCases runs every generator on every shared case: each case
// is a valid spec, and a generator refuses (with ErrUnsupported) at least
// what the generic hypervisor.Check refuses from its Caps; generators may
// refuse more.
func TestStandardCases(t *testing.T) {
	for _, g := range all.Generators() {
		for _, c := range hvtest.Standard() {
			s := hvtest.Base()
			if c.Spec != nil {
				c.Spec(s)
			}
			s.ApplyDefaults()
			if err := s.Validate(); err != nil {
				t.Fatalf("case %s is not a valid spec: %v", c.Name, err)
			}
			checkErr := hypervisor.Check(s, g.Name(), g.Caps())
			cmd, err := g.Command(s, hvtest.X86)
			switch {
			case err != nil && !errors.Is(err, hypervisor.ErrUnsupported):
				t.Errorf("%s/%s: refusal does not wrap ErrUnsupported: %v", g.Name(), c.Name, err)
			case err == nil && checkErr != nil:
				t.Errorf("%s/%s: Command accepts what Check refuses: %v", g.Name(), c.Name, checkErr)
			case err == nil && len(cmd.Argv) == 0:
				t.Errorf("%s/%s: empty argv", g.Name(), c.Name)
			}
		}
	}
}
