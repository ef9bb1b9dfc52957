package firecracker_test

import (
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/all/hvtest"
	"github.com/microvm-host/microvm/internal/hypervisor/firecracker"
	"github.com/microvm-host/microvm/internal/spec"
)

var _ hypervisor.Generator = firecracker.Generator{}

func TestGolden(t *testing.T) {
	hvtest.Run(t, firecracker.Generator{}, append(hvtest.Standard(),
		// SMT needs 1 or an even number of vcpus.
		hvtest.Case{Name: "odd-vcpus", Spec: func(s *spec.Spec) {
			s.Vcpu = 3
			s.Firecracker.ExtraArgs = []string{"--level", "Debug"}
		}},
		hvtest.Case{Name: "aarch64", Facts: hvtest.Facts(hypervisor.Facts{Arch: "aarch64", Binary: "/opt/firecracker"}),
			Spec: func(s *spec.Spec) { s.Vcpu = 2; s.Initrd = "" }},
		hvtest.Case{Name: "no-socket", Spec: func(s *spec.Spec) { s.Socket = new(string) }},
		hvtest.Case{Name: "runner-kernel", Spec: func(s *spec.Spec) {
			s.Kernel = hypervisor.RunnerPath("share/microvm/kernel")
		}},
		hvtest.Case{Name: "user-interface", Spec: func(s *spec.Spec) {
			s.Interfaces = []spec.Interface{{Type: "user", ID: "vm-user0", MAC: "02:00:00:00:00:03"}}
		}},
		// No io_uring on the host: the Sync engine, and build says so.
		hvtest.Case{Name: "no-io-uring", Facts: hvtest.Facts(hypervisor.Facts{Arch: "x86_64"}), Spec: func(s *spec.Spec) {
			s.Volumes = []spec.Volume{{Image: "data.img", Size: 64}}
		}},
		hvtest.Case{Name: "too-old", Facts: hvtest.Facts(hypervisor.Facts{Arch: "x86_64", Binary: "/usr/bin/firecracker", Version: "0.25.2"})},
	))
}

func TestCaps(t *testing.T) {
	hvtest.CheckCaps(t, firecracker.Generator{}, hvtest.X86)
}
