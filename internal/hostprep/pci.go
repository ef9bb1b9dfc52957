package hostprep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/trust"
	"github.com/microvm-host/microvm/internal/vfio"
)

// PCISetup binds the runner's PCI devices to vfio-pci and records which
// drivers they came from, in the VM directory.
func (p *Prep) PCISetup(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if r.Helpers.PCISetup {
		return p.runHelper(ctx, r, runner.PCISetupScript, vmDir)
	}
	if len(r.PCIDevices) == 0 {
		return nil
	}
	if p.VFIO == nil {
		return errNeedsRoot
	}
	path := filepath.Join(vmDir, VFIOFile)
	// A record left by a crash holds the drivers from before that boot;
	// Merge keeps them rather than "vfio-pci", which Bind now finds.
	saved, err := p.loadBindings(path, r)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	bs, err := p.VFIO.Bind(vm, r.PCIDevices)
	if err != nil {
		return err
	}
	if err := vfio.SaveBindings(path, vfio.Merge(saved, bs)); err != nil {
		return errors.Join(err, p.VFIO.Restore(vm, bs))
	}
	return nil
}

// PCITeardown gives the devices back to the drivers they had before. A
// runner with its own pci-setup has no teardown (microvm.nix has none).
func (p *Prep) PCITeardown(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	path := filepath.Join(vmDir, VFIOFile)
	bs, err := p.loadBindings(path, r)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.VFIO == nil {
		return errNeedsRoot
	}
	if err := p.VFIO.Restore(vm, bs); err != nil {
		return err
	}
	return os.Remove(path)
}

// loadBindings reads the VFIO record of a VM directory, which the VM user
// can write: only a record root wrote counts (trust.ReadFile), and only
// for the devices the runner names, so a planted record cannot make
// teardown rebind devices the VM never had.
//
// A record root did not write is logged and treated as absent.
func (p *Prep) loadBindings(path string, r *runner.Runner) ([]vfio.Binding, error) {
	data, err := trust.ReadFile(path)
	if errors.Is(err, trust.ErrUntrusted) {
		p.log().Warn("ignoring VFIO record", "err", err)
		return nil, os.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	all, err := vfio.ParseBindings(data, path)
	if err != nil {
		return nil, err
	}
	var own []vfio.Binding
	for _, bd := range all {
		if slices.Contains(r.PCIDevices, bd.Addr) {
			own = append(own, bd)
		}
	}
	return own, nil
}
