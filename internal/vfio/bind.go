package vfio

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
)

// Bind hands the devices at addrs to vfio-pci for VM vm and makes their
// /dev/vfio/GROUP nodes accessible to Owner:Group.
//
// It checks everything it can before changing anything: every address
// exists, vfio-pci is loaded, every device has an IOMMU group, and every
// other device in those groups is unbound, on vfio-pci, a bridge, or in
// addrs. It then binds each device (driver_override, unbind, drivers_probe,
// verify), checks the groups again and chowns the group nodes. On failure
// it restores what it changed and returns the error.
//
// A device already on vfio-pci is left as it is and its Binding says
// PrevDriver "vfio-pci", so Restore leaves it too. Callers that persist
// bindings must keep the ones saved by the first Bind (see Merge): after a
// host crash a second Bind cannot see the driver the device had before.
func (b *Binder) Bind(vm string, addrs []string) ([]Binding, error) {
	bs, err := b.plan(addrs)
	if err != nil {
		return nil, fmt.Errorf("binding PCI devices of VM %q: %w", vm, err)
	}
	var changed []Binding
	var nodes []chowned
	fail := func(err error) ([]Binding, error) {
		err = fmt.Errorf("binding PCI devices of VM %q: %w", vm, err)
		if rerr := b.rollback(vm, changed, nodes); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rolling back: %w", rerr))
		}
		return nil, err
	}
	for _, bd := range bs {
		if bd.PrevDriver == Driver {
			b.log().Info("PCI device already on vfio-pci", "vm", vm, "device", bd.Addr, "iommu_group", bd.Group)
			continue
		}
		// Recorded before acting: a half-done bind needs undoing too.
		changed = append(changed, bd)
		if err := b.bindOne(bd); err != nil {
			return fail(err)
		}
		b.log().Info("bound PCI device to vfio-pci", "vm", vm, "device", bd.Addr,
			"iommu_group", bd.Group, "prev_driver", bd.PrevDriver)
	}
	for _, g := range groups(bs) {
		// Again after binding: the kernel may have bound a device of the
		// group meanwhile (hotplug, a driver loaded by udev).
		if err := b.checkGroup(g, nil); err != nil {
			return fail(err)
		}
		c, err := b.chownNode(g)
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, c)
	}
	return bs, nil
}

// plan reads the current state of every device and refuses unusable ones.
func (b *Binder) plan(addrs []string) ([]Binding, error) {
	if _, err := os.Stat(b.driverPath(Driver)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoVFIO, err)
	}
	var bs []Binding
	pending := map[string]bool{}
	for _, addr := range addrs {
		if pending[addr] {
			continue
		}
		if err := b.checkExists(addr); err != nil {
			return nil, err
		}
		bd := Binding{Addr: addr}
		var err error
		if bd.PrevDriver, err = b.driver(addr); err != nil {
			return nil, err
		}
		if bd.PrevOverride, err = b.override(addr); err != nil {
			return nil, err
		}
		if bd.Group, err = b.group(addr); err != nil {
			return nil, err
		}
		pending[addr] = true
		bs = append(bs, bd)
	}
	for _, g := range groups(bs) {
		if err := b.checkGroup(g, pending); err != nil {
			return nil, err
		}
	}
	return bs, nil
}

// bindOne moves one device to vfio-pci. driver_override goes first so that
// nothing but vfio-pci can claim the device once it is unbound; new_id is
// not used because it grabs every device with the same vendor:device.
func (b *Binder) bindOne(bd Binding) error {
	if bd.PrevOverride != Driver {
		if err := b.write(b.devicePath(bd.Addr, "driver_override"), Driver); err != nil {
			return err
		}
	}
	if bd.PrevDriver != "" {
		if err := b.write(b.driverPath(bd.PrevDriver, "unbind"), bd.Addr); err != nil {
			return err
		}
	}
	if err := b.write(b.probePath(), bd.Addr); err != nil {
		return err
	}
	return b.waitDriver(bd.Addr, Driver)
}

// chowned remembers a group node's owner before Bind changed it.
type chowned struct {
	path     string
	uid, gid int
}

func (b *Binder) chownNode(group string) (chowned, error) {
	path := b.GroupDevice(group)
	fi, err := b.waitNode(path)
	if err != nil {
		return chowned{}, fmt.Errorf("VFIO group node: %w", err)
	}
	c := chowned{path: path, uid: -1, gid: -1}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		c.uid, c.gid = int(st.Uid), int(st.Gid)
	}
	if err := os.Chown(path, b.Owner, b.Group); err != nil {
		return chowned{}, fmt.Errorf("making VFIO group %s accessible: %w", group, err)
	}
	return c, nil
}

// rollback undoes a failed Bind, newest change first.
func (b *Binder) rollback(vm string, changed []Binding, nodes []chowned) error {
	var errs []error
	for _, c := range slices.Backward(nodes) {
		if err := os.Lchown(c.path, c.uid, c.gid); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	for _, bd := range slices.Backward(changed) {
		if err := b.restoreOne(vm, bd); err != nil {
			errs = append(errs, fmt.Errorf("device %s: %w", bd.Addr, err))
		}
	}
	return errors.Join(errs...)
}

// groups returns the distinct IOMMU groups of bs in first-seen order.
func groups(bs []Binding) []string {
	var gs []string
	for _, bd := range bs {
		if !slices.Contains(gs, bd.Group) {
			gs = append(gs, bd.Group)
		}
	}
	return gs
}
