package vfio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pciClassBridge is the class/subclass of a PCI-to-PCI bridge. Bridges sit
// in the IOMMU group of the devices behind them and keep their pcieport
// driver; vfio-pci does not need them.
const pciClassBridge = 0x0604

// pollInterval is how often waits re-read sysfs.
const pollInterval = 10 * time.Millisecond

func (b *Binder) checkExists(addr string) error {
	if err := ValidAddress(addr); err != nil {
		return err
	}
	if _, err := os.Stat(b.devicePath(addr)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w %s", ErrNoDevice, addr)
		}
		return err
	}
	return nil
}

// driver returns the name of the driver bound to addr, "" for none.
func (b *Binder) driver(addr string) (string, error) {
	target, err := os.Readlink(b.devicePath(addr, "driver"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading driver of %s: %w", addr, err)
	}
	return filepath.Base(target), nil
}

// override returns addr's driver_override, "" when unset (the kernel shows
// an unset override as "(null)").
func (b *Binder) override(addr string) (string, error) {
	data, err := os.ReadFile(b.devicePath(addr, "driver_override"))
	if err != nil {
		return "", fmt.Errorf("reading driver_override of %s: %w", addr, err)
	}
	s := strings.TrimSpace(string(data))
	if s == "(null)" {
		s = ""
	}
	return s, nil
}

// group returns the number of addr's IOMMU group.
func (b *Binder) group(addr string) (string, error) {
	target, err := os.Readlink(b.devicePath(addr, "iommu_group"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", addr, ErrNoIOMMU)
	}
	if err != nil {
		return "", fmt.Errorf("reading IOMMU group of %s: %w", addr, err)
	}
	return filepath.Base(target), nil
}

// isBridge reports whether addr is a PCI-to-PCI bridge; unreadable class
// files count as "not a bridge", which errs on the side of refusing.
func (b *Binder) isBridge(addr string) bool {
	data, err := os.ReadFile(b.devicePath(addr, "class"))
	if err != nil {
		return false
	}
	class, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(data)), "0x"), 16, 32)
	return err == nil && class>>8 == pciClassBridge
}

// checkGroup refuses a group in which a device other than a bridge is bound
// to a host driver: vfio-pci only hands out whole groups, and the VMM
// would fail later with a less helpful message. Devices in pending are
// about to be bound by this call and count as bound.
func (b *Binder) checkGroup(group string, pending map[string]bool) error {
	entries, err := os.ReadDir(b.groupDevicesPath(group))
	if err != nil {
		return fmt.Errorf("listing IOMMU group %s: %w", group, err)
	}
	for _, e := range entries {
		dev := e.Name()
		if pending[dev] {
			continue
		}
		drv, err := b.driver(dev)
		if err != nil {
			return err
		}
		if drv == "" || drv == Driver || b.isBridge(dev) {
			continue
		}
		return fmt.Errorf("%w: device %s in IOMMU group %s is bound to host driver %q; pass it through too or unbind it",
			ErrGroupInUse, dev, group, drv)
	}
	return nil
}

// waitDriver waits until addr is bound to want.
func (b *Binder) waitDriver(addr, want string) error {
	deadline := time.Now().Add(b.settle())
	for {
		got, err := b.driver(addr)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			if got == "" {
				got = "no driver"
			}
			return fmt.Errorf("%w: %s has %s after %v, want %s", ErrNotBound, addr, got, b.settle(), want)
		}
		time.Sleep(pollInterval)
	}
}

// waitNode waits for a /dev/vfio/GROUP node, which devtmpfs creates when
// the group's first device binds to vfio-pci.
func (b *Binder) waitNode(path string) (os.FileInfo, error) {
	deadline := time.Now().Add(b.settle())
	for {
		fi, err := os.Stat(path)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			return fi, err
		}
		time.Sleep(pollInterval)
	}
}
