// Package all lists the hypervisor generators, in microvm.nix's order
// (lib/default.nix's hypervisors).
package all

import (
	"fmt"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/alioth"
	"github.com/microvm-host/microvm/internal/hypervisor/cloudhypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/crosvm"
	"github.com/microvm-host/microvm/internal/hypervisor/firecracker"
	"github.com/microvm-host/microvm/internal/hypervisor/kvmtool"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/hypervisor/stratovirt"
)

// Generators returns every generator, in a fixed order.
func Generators() []hypervisor.Generator {
	return []hypervisor.Generator{
		qemu.Generator{},
		cloudhypervisor.Generator{},
		firecracker.Generator{},
		crosvm.Generator{},
		kvmtool.Generator{},
		stratovirt.Generator{},
		alioth.Generator{},
	}
}

// Lookup returns the generator called name.
func Lookup(name string) (hypervisor.Generator, error) {
	var names []string
	for _, g := range Generators() {
		if g.Name() == name {
			return g, nil
		}
		names = append(names, g.Name())
	}
	return nil, fmt.Errorf("unknown hypervisor %q; expected one of %s", name, strings.Join(names, ", "))
}
