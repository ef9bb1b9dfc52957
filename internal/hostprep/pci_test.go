package hostprep

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/vfio"
)

// fakeSysfs is a sysfs tree with one PCI device on vfio-pci; writes to
// its attribute files land in plain files the test reads back.
func fakeSysfs(t *testing.T, addr string) string {
	t.Helper()
	sys := t.TempDir()
	dev := filepath.Join(sys, "bus/pci/devices", addr)
	drv := filepath.Join(sys, "bus/pci/drivers/vfio-pci")
	for _, d := range []string{dev, drv, filepath.Join(sys, "bus/pci/drivers/e1000e")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(dev, "driver_override"), filepath.Join(drv, "unbind"), filepath.Join(sys, "bus/pci/drivers_probe")} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../../drivers/vfio-pci", filepath.Join(dev, "driver")); err != nil {
		t.Fatal(err)
	}
	return sys
}

// TestPCITeardownOnlyRestoresTheRunnersDevices: teardown gives back only
// devices the runner that ran lists, from a record root wrote. A record
// the VM user planted, or one naming devices the VM never had, made
// root's teardown write driver names into sysfs (SECURITY.md, finding 5).
func TestPCITeardownOnlyRestoresTheRunnersDevices(t *testing.T) {
	const addr = "0000:00:1f.0"
	unbound := func(sys string) bool {
		b, err := os.ReadFile(filepath.Join(sys, "bus/pci/drivers/vfio-pci/unbind"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b) == addr
	}
	record := func(t *testing.T, vmDir string) string {
		p := filepath.Join(vmDir, VFIOFile)
		if err := vfio.SaveBindings(p, []vfio.Binding{{Addr: addr, PrevDriver: "e1000e"}}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	teardown := func(sys, vmDir string, r *runner.Runner) {
		p := &Prep{VFIO: &vfio.Binder{Sys: sys, Dev: t.TempDir(), Settle: 10 * time.Millisecond}}
		p.PCITeardown(context.Background(), "vm", vmDir, r) // the fake kernel never rebinds: an error is expected
	}

	// The runner lists the device: it is given back (the test can fail).
	sys, vmDir := fakeSysfs(t, addr), t.TempDir()
	record(t, vmDir)
	teardown(sys, vmDir, &runner.Runner{PCIDevices: []string{addr}})
	if !unbound(sys) {
		t.Fatal("the runner's own device was not given back")
	}

	// A runner without that device: nothing is written.
	sys, vmDir = fakeSysfs(t, addr), t.TempDir()
	record(t, vmDir)
	teardown(sys, vmDir, &runner.Runner{})
	if unbound(sys) {
		t.Fatal("teardown rebound a device the runner does not have")
	}

	// A record the VM user wrote is ignored, even for the runner's device.
	if os.Geteuid() != 0 {
		t.Skip("a record owned by another user needs root")
	}
	sys, vmDir = fakeSysfs(t, addr), t.TempDir()
	if err := os.Chown(record(t, vmDir), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	teardown(sys, vmDir, &runner.Runner{PCIDevices: []string{addr}})
	if unbound(sys) {
		t.Fatal("teardown acted on a record the VM user wrote")
	}
}
