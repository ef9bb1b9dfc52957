// Package vfio hands PCI devices to vfio-pci for passthrough and gives them
// back to their host drivers afterwards, through a sysfs root passed in.
//
// It does what microvm.nix's pci-setup does (driver_override, unbind,
// drivers_probe, chown /dev/vfio/GROUP) and what it leaves out: it checks
// the whole IOMMU group before touching anything, undoes a half-done bind,
// and restores the previous driver at teardown.
package vfio

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Driver is the kernel driver that makes a device usable by a VMM.
const Driver = "vfio-pci"

// DefaultSettle is how long Bind and Restore wait for the kernel to bind a
// driver after a probe when Binder.Settle is zero. Probing is synchronous
// for vfio-pci, but drivers may probe asynchronously.
const DefaultSettle = 2 * time.Second

var (
	// ErrInvalidAddress is returned for an address that is not DDDD:BB:DD.F.
	ErrInvalidAddress = errors.New("invalid PCI address")
	// ErrNoDevice is returned when the address names no PCI device.
	ErrNoDevice = errors.New("no such PCI device")
	// ErrNoVFIO is returned when the vfio-pci driver is not loaded.
	ErrNoVFIO = errors.New("vfio-pci driver not loaded (modprobe vfio-pci)")
	// ErrNoIOMMU is returned for a device without an IOMMU group: the
	// IOMMU is off (intel_iommu=on / amd_iommu=on) or absent.
	ErrNoIOMMU = errors.New("device has no IOMMU group (is the IOMMU enabled?)")
	// ErrGroupInUse is returned when another device of the IOMMU group is
	// still bound to a host driver: a VM can only own a whole group.
	ErrGroupInUse = errors.New("IOMMU group not viable")
	// ErrNotBound is returned when a probe did not bind the wanted driver.
	ErrNotBound = errors.New("device not bound after probe")
)

// addrRE is a full PCI address in sysfs spelling: lowercase hex domain,
// bus, device and function.
var addrRE = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

// ValidAddress reports whether addr is a full, lowercase PCI address such as
// "0000:01:00.0".
func ValidAddress(addr string) error {
	if !addrRE.MatchString(addr) {
		return fmt.Errorf("%w %q: want DDDD:BB:DD.F in lowercase hex, as in /sys/bus/pci/devices", ErrInvalidAddress, addr)
	}
	return nil
}

// Binder binds and restores PCI devices. Sys and Dev are the sysfs and
// devtmpfs roots ("/sys", "/dev"); tests point them at a temp dir.
type Binder struct {
	Sys string
	Dev string
	Log *slog.Logger
	// Owner and Group get /dev/vfio/GROUP, so the unprivileged VMM can
	// open it. 0 means root, not "unchanged".
	Owner, Group int
	// Settle is how long to wait for the kernel to react to a probe;
	// zero means DefaultSettle.
	Settle time.Duration

	// writer applies sysfs writes; nil means the real kernel. Tests put a
	// fake kernel here, as writes to a temp dir have no side effects.
	writer sysfsWriter
}

// Binding records what Bind found on a device, so Restore can put it back.
// PrevDriver is "" for a device that had no driver, and "vfio-pci" for one
// that was already bound, which Restore then leaves alone. PrevOverride is
// "" when driver_override was unset; a "vfio-pci" override on a device
// that had another driver is cleared, not restored.
type Binding struct {
	Addr         string `json:"addr"`
	PrevDriver   string `json:"prev_driver"`
	PrevOverride string `json:"prev_override"`
	Group        string `json:"iommu_group"`
}

// sysfsWriter is the one side effect that reaches the kernel.
type sysfsWriter interface {
	WriteFile(path string, data []byte) error
}

type osWriter struct{}

func (osWriter) WriteFile(path string, data []byte) error {
	// sysfs attributes exist already: never create, never truncate.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (b *Binder) write(path, data string) error {
	w := b.writer
	if w == nil {
		w = osWriter{}
	}
	if err := w.WriteFile(path, []byte(data)); err != nil {
		return fmt.Errorf("writing %q to %s: %w", data, path, err)
	}
	return nil
}

func (b *Binder) log() *slog.Logger {
	if b.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Log
}

func (b *Binder) settle() time.Duration {
	if b.Settle <= 0 {
		return DefaultSettle
	}
	return b.Settle
}

// Paths of the sysfs and devtmpfs files used, relative to the roots.
func (b *Binder) devicePath(addr string, file ...string) string {
	return filepath.Join(append([]string{b.Sys, "bus/pci/devices", addr}, file...)...)
}

func (b *Binder) driverPath(driver string, file ...string) string {
	return filepath.Join(append([]string{b.Sys, "bus/pci/drivers", driver}, file...)...)
}

func (b *Binder) probePath() string { return filepath.Join(b.Sys, "bus/pci/drivers_probe") }

func (b *Binder) groupDevicesPath(group string) string {
	return filepath.Join(b.Sys, "kernel/iommu_groups", group, "devices")
}

// GroupDevice is the VFIO group node the VMM opens.
func (b *Binder) GroupDevice(group string) string { return filepath.Join(b.Dev, "vfio", group) }
