package vfio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// Restore gives the devices of a VM back to the drivers they had before
// Bind: unbind from vfio-pci, restore driver_override, and reprobe so the
// previous driver claims the device. It only acts where the state differs
// from the recorded one, so it is safe to run again, and it goes on after
// a failing device, returning all errors joined.
func (b *Binder) Restore(vm string, bs []Binding) error {
	var errs []error
	for _, bd := range slices.Backward(bs) {
		if err := b.restoreOne(vm, bd); err != nil {
			errs = append(errs, fmt.Errorf("restoring PCI device %s of VM %q: %w", bd.Addr, vm, err))
		}
	}
	return errors.Join(errs...)
}

func (b *Binder) restoreOne(vm string, bd Binding) error {
	if bd.PrevDriver == Driver {
		// It was on vfio-pci before Bind, which changed nothing.
		return nil
	}
	if err := ValidAddress(bd.Addr); err != nil {
		return err
	}
	if _, err := os.Stat(b.devicePath(bd.Addr)); errors.Is(err, fs.ErrNotExist) {
		b.log().Warn("PCI device to restore is gone", "vm", vm, "device", bd.Addr)
		return nil
	}
	cur, err := b.driver(bd.Addr)
	if err != nil {
		return err
	}
	if cur == Driver {
		if err := b.write(b.driverPath(Driver, "unbind"), bd.Addr); err != nil {
			return err
		}
		cur = ""
	}
	want := bd.PrevOverride
	if want == Driver {
		// Left over from an interrupted bind (the device was on another
		// driver): putting it back would hand the device to vfio-pci again.
		want = ""
	}
	ov, err := b.override(bd.Addr)
	if err != nil {
		return err
	}
	if ov != want {
		// A lone newline clears driver_override; an empty write would
		// not reach the kernel at all.
		if err := b.write(b.devicePath(bd.Addr, "driver_override"), want+"\n"); err != nil {
			return err
		}
	}
	if cur != "" || bd.PrevDriver == "" {
		if cur != bd.PrevDriver {
			b.log().Warn("PCI device has another driver; leaving it", "vm", vm, "device", bd.Addr,
				"driver", cur, "prev_driver", bd.PrevDriver)
		}
		return nil
	}
	if err := b.write(b.probePath(), bd.Addr); err != nil {
		return err
	}
	if err := b.waitDriver(bd.Addr, bd.PrevDriver); err != nil {
		return err
	}
	b.log().Info("gave PCI device back to its driver", "vm", vm, "device", bd.Addr, "driver", bd.PrevDriver)
	return nil
}
