package hostnet

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// forVM returns h logging with the VM's name attached.
func (h *Host) forVM(vm string) *Host {
	c := *h
	c.log = h.log.With("vm", vm)
	return &c
}

// SetupTaps ensures all of a VM's taps, all or nothing: on failure it
// deletes the taps it created in this call (taps it found correct stay, as
// a running VM may hold them). Errors name the VM and the tap.
func (h *Host) SetupTaps(vm string, taps []Tap) error {
	names := make([]string, len(taps))
	for i, t := range taps {
		names[i] = t.Name
	}
	if err := checkUnique(vm, "tap", names); err != nil {
		return err
	}
	h = h.forVM(vm)
	var made []string
	for _, t := range taps {
		created, err := h.ensureTap(t)
		if created {
			made = append(made, t.Name)
		}
		if err != nil {
			err = fmt.Errorf("vm %q: setting up tap %q: %w", vm, t.Name, err)
			return errors.Join(err, h.rollback(vm, made, h.DeleteTap))
		}
	}
	return nil
}

// TeardownTaps deletes a VM's taps, continuing past failures. Taps already
// gone are fine, so a second teardown succeeds.
func (h *Host) TeardownTaps(vm string, names []string) error {
	return h.teardown(vm, "tap", names)
}

// SetupMacvtaps ensures all of a VM's macvtaps and their /dev/tapN, all or
// nothing like SetupTaps.
func (h *Host) SetupMacvtaps(vm string, ms []Macvtap) error {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	if err := checkUnique(vm, "macvtap", names); err != nil {
		return err
	}
	h = h.forVM(vm)
	var made []string
	for _, m := range ms {
		_, created, err := h.ensureMacvtap(m)
		if created {
			made = append(made, m.Name)
		}
		if err != nil {
			err = fmt.Errorf("vm %q: setting up macvtap %q: %w", vm, m.Name, err)
			return errors.Join(err, h.rollback(vm, made, h.DeleteMacvtap))
		}
	}
	return nil
}

// TeardownMacvtaps deletes a VM's macvtaps, continuing past failures.
func (h *Host) TeardownMacvtaps(vm string, names []string) error {
	return h.teardown(vm, "macvtap", names)
}

// maxParallelDeletes bounds the sockets and goroutines of one teardown.
const maxParallelDeletes = 8

// teardown deletes the links concurrently, each over its own netlink socket
// (a Handle serialises its requests). Most of a deletion is the kernel
// waiting for RCU (rcu_barrier after the rtnl lock is dropped), and those
// waits overlap: 4 multi_queue taps take ~72 ms one by one, ~28 ms at once.
func (h *Host) teardown(vm, kind string, names []string) error {
	h = h.forVM(vm)
	errs := make([]error, len(names))
	sem := make(chan struct{}, maxParallelDeletes)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			nh, err := openHandle(h.ns)
			if err == nil {
				err = h.deleteLink(nh, n, kind)
				nh.Close()
			}
			if err != nil {
				errs[i] = fmt.Errorf("vm %q: deleting %s %q: %w", vm, kind, n, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rollback deletes, newest first, what a failed setup created.
func (h *Host) rollback(vm string, made []string, del func(string) error) error {
	var errs []error
	for _, n := range slices.Backward(made) {
		if err := del(n); err != nil {
			errs = append(errs, fmt.Errorf("vm %q: rolling back: %w", vm, err))
		}
	}
	return errors.Join(errs...)
}

// checkUnique refuses a list naming one interface twice: the second entry
// would silently win over the first.
func checkUnique(vm, what string, names []string) error {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return fmt.Errorf("vm %q: %s %q is declared twice", vm, what, n)
		}
		seen[n] = true
	}
	return nil
}
