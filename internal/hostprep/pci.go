package hostprep

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/vfio"
)

// PCISetup binds the runner's PCI devices to vfio-pci and records which
// drivers they came from, in the VM directory.
func (p *Prep) PCISetup(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if r.Helpers.PCISetup {
		return runHelper(ctx, r, runner.PCISetupScript, vmDir)
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
	saved, err := vfio.LoadBindings(path)
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
	bs, err := vfio.LoadBindings(path)
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
