// Package hostprep is the root-side half of the runner convention: before
// a VM starts it writes its cloud-init seed, links an image VM's root disk
// and initramfs into its directory, creates its taps and
// macvtaps, binds its PCI devices to vfio-pci and starts its virtiofsd
// fleet; after it stopped it undoes all of that. Setup reads the runner that is about to start (current),
// Teardown the one that ran (booted), as microvm.nix's units do.
//
// Runners that ship their own helper scripts (bin/tap-up, bin/pci-setup,
// bin/virtiofsd-run, … — microvm.nix's newer convention) have those run
// instead of the built-in step.
package hostprep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/hostnet"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/vfio"
	"github.com/microvm-host/microvm/internal/virtiofsd"
	"github.com/microvm-host/microvm/internal/vmnet"
)

// VFIOFile is where Setup records the drivers it took PCI devices from,
// in the VM directory, so a teardown after a host crash can give them back.
const VFIOFile = "vfio-bindings.json"

// Prep prepares the host for VMs. Net and VFIO may be nil on a host where
// they cannot work (not root): runners that need them are then refused.
type Prep struct {
	Net       *hostnet.Host
	VFIO      *vfio.Binder
	Virtiofsd virtiofsd.Config
	Config    *hostconfig.Config
	ID        Identity
	Log       *slog.Logger
	// Networks brings up the managed networks taps join; nil where there
	// are none or they cannot work (not root).
	Networks *vmnet.Manager
	// ServeDHCP makes Setup serve the DHCP of the VM's networks while
	// nobody else does: set by a foreground `microvm run`, whose VM
	// would otherwise get no address without a daemon.
	ServeDHCP bool

	mu     sync.Mutex
	fleets map[string]*fleet      // by VM directory
	dhcp   map[string]*dhcpServer // by VM directory
}

// Setup prepares everything the runner r needs to start in vmDir, all or
// nothing: a failed step undoes the steps before it.
func (p *Prep) Setup(ctx context.Context, vmDir string, r *runner.Runner) error {
	vm := filepath.Base(vmDir)
	r = ownSteps(r)
	var done []step
	for _, s := range p.steps() {
		if err := s.up(ctx, vm, vmDir, r); err != nil {
			var undo []error
			for i := len(done) - 1; i >= 0; i-- {
				undo = append(undo, done[i].down(context.WithoutCancel(ctx), vm, vmDir, r))
			}
			return errors.Join(fmt.Errorf("vm %q: %s: %w", vm, s.name, err), errors.Join(undo...))
		}
		done = append(done, s)
	}
	return nil
}

// Teardown undoes Setup for the runner r that ran in vmDir, in reverse
// order, continuing past failures; running it twice is harmless.
func (p *Prep) Teardown(ctx context.Context, vmDir string, r *runner.Runner) error {
	vm := filepath.Base(vmDir)
	r = ownSteps(r)
	steps := p.steps()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].down(ctx, vm, vmDir, r); err != nil {
			errs = append(errs, fmt.Errorf("vm %q: %s teardown: %w", vm, steps[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// ownSteps returns r without helper scripts when microvm build generated
// it: its scripts only call `microvm host` back, so the steps are done
// here directly (one process less, and the fleet's own readiness check).
func ownSteps(r *runner.Runner) *runner.Runner {
	if _, err := os.Stat(filepath.Join(r.Dir, runner.ShareDir, generate.BuildFile)); err != nil {
		return r
	}
	c := *r
	c.Helpers = runner.Helpers{Shutdown: r.Helpers.Shutdown, Balloon: r.Helpers.Balloon}
	return &c
}

// step is one concern of host preparation.
type step struct {
	name string
	up   func(ctx context.Context, vm, vmDir string, r *runner.Runner) error
	down func(ctx context.Context, vm, vmDir string, r *runner.Runner) error
}

// steps in setup order: the cloud-init seed first, as it fails on a spec
// that changed since the build before anything else is set up; an
// image's root disk next, which may take long the first time; network
// next, so a VM never starts without its interfaces; virtiofsd last, as
// the hypervisor connects to it at once.
func (p *Prep) steps() []step {
	return []step{
		{"cloud-init seed", p.SeedUp, p.SeedDown},
		{"image", p.ImageUp, p.ImageDown},
		{"taps", p.TapUp, p.TapDown},
		{"dhcp", p.DHCPStart, p.DHCPStop},
		{"macvtaps", p.MacvtapUp, p.MacvtapDown},
		{"pci devices", p.PCISetup, p.PCITeardown},
		{"virtiofsd", p.VirtiofsdStart, p.VirtiofsdStop},
	}
}

func (p *Prep) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}
