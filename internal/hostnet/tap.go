package hostnet

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNoLink reports that an interface a tap or macvtap depends on (a bridge,
// a macvtap parent) does not exist.
var ErrNoLink = errors.New("no such interface")

// Tap is one tap interface of a VM, as share/microvm/tap-interfaces and
// tap-flags declare it.
type Tap struct {
	Name string
	// Owner and Group may attach to the tap (TUNSETOWNER/TUNSETGROUP); 0 is
	// root. A tap made without an owner reads back as 0 too.
	Owner, Group int
	// MultiQueue must match the hypervisor: qemu/cloud-hypervisor open one
	// queue per vcpu when vcpu > 1, and a mismatch is EINVAL at VM start.
	MultiQueue bool
	VnetHdr    bool
	// Bridge is the master to attach the tap to. "" leaves the master alone,
	// so a bridge that systemd-networkd attaches by name match is not undone.
	Bridge string
}

// tapFlags are the flags hostnet sets and compares. netlink uses
// Tuntap.Flags as given once non-zero, so NO_PI is always spelled out.
const tapFlags = netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_MULTI_QUEUE

// tuntap is the link t asks for: persistent, no queue left open.
func (t Tap) tuntap() (*netlink.Tuntap, error) {
	if err := checkName(t.Name); err != nil {
		return nil, err
	}
	owner, err := checkID("owner", t.Owner)
	if err != nil {
		return nil, err
	}
	group, err := checkID("group", t.Group)
	if err != nil {
		return nil, err
	}
	flags := netlink.TUNTAP_NO_PI
	if t.VnetHdr {
		flags |= netlink.TUNTAP_VNET_HDR
	}
	if t.MultiQueue {
		flags |= netlink.TUNTAP_MULTI_QUEUE
	}
	la := netlink.NewLinkAttrs()
	la.Name = t.Name
	return &netlink.Tuntap{LinkAttrs: la, Mode: netlink.TUNTAP_MODE_TAP, Flags: flags, Owner: owner, Group: group}, nil
}

// sameTap reports whether an existing tap can be kept as it is.
func sameTap(got, want *netlink.Tuntap) bool {
	return got.Mode == want.Mode && got.Flags&tapFlags == want.Flags&tapFlags &&
		got.Owner == want.Owner && got.Group == want.Group && !got.NonPersist
}

// EnsureTap makes the tap exist with t's owner, group and flags, up, and
// attached to t.Bridge. A tap of ours with other settings (left by a crash
// or an older runner) is replaced; a link of another kind is refused.
func (h *Host) EnsureTap(t Tap) error {
	if _, err := h.ensureTap(t); err != nil {
		return fmt.Errorf("ensuring tap %q: %w", t.Name, err)
	}
	return nil
}

// ensureTap reports created whenever it left a new link behind, even with
// an error, so that SetupTaps can roll it back.
func (h *Host) ensureTap(t Tap) (created bool, err error) {
	want, err := t.tuntap()
	if err != nil {
		return false, err
	}
	master := 0
	if t.Bridge != "" {
		// Before any change: a missing bridge must leave the host as it was.
		if master, err = h.bridgeIndex(t.Bridge); err != nil {
			return false, err
		}
	}
	var cur netlink.Link
	if cur, err = h.linkByName(t.Name); err != nil {
		return false, err
	}
	if cur != nil {
		got, ok := cur.(*netlink.Tuntap)
		switch {
		case !ok || got.Mode != netlink.TUNTAP_MODE_TAP:
			return false, &foreignError{name: t.Name, kind: kind(cur), want: "tap"}
		case sameTap(got, want):
			h.log.Debug("tap already present", "tap", t.Name)
		default:
			h.log.Info("replacing stale tap", "tap", t.Name,
				"owner", got.Owner, "group", got.Group, "flags", fmt.Sprintf("%#x", uint16(got.Flags&tapFlags)))
			if err := h.h.LinkDel(cur); err != nil && !errors.Is(err, unix.ENODEV) {
				return false, fmt.Errorf("deleting stale tap: %w", err)
			}
			cur = nil
		}
	}
	changed := false
	if cur == nil {
		// TUNSETIFF creates the tap in the netns of the opening thread.
		if err := h.inNetNS(func() error { return h.h.LinkAdd(want) }); err != nil {
			return false, fmt.Errorf("creating: %w", err)
		}
		h.log.Info("created tap", "tap", t.Name, "owner", want.Owner, "group", want.Group,
			"vnet_hdr", t.VnetHdr, "multi_queue", t.MultiQueue)
		cur, created, changed = want, true, true
	}
	if master != 0 && cur.Attrs().MasterIndex != master {
		if err := h.h.LinkSetMasterByIndex(cur, master); err != nil {
			return created, fmt.Errorf("attaching to bridge %q: %w", t.Bridge, err)
		}
		changed = true
	}
	if cur.Attrs().Flags&net.FlagUp == 0 {
		if err := h.h.LinkSetUp(cur); err != nil {
			return created, fmt.Errorf("setting up: %w", err)
		}
		changed = true
	}
	if changed {
		if err := h.verifyTap(t, want, master); err != nil {
			return created, err
		}
	}
	return created, nil
}

// verifyTap reads the tap back: the kernel may have adjusted or refused
// something without an error (IFLA_TUN_* is decoded by netlink v1.3.1).
func (h *Host) verifyTap(t Tap, want *netlink.Tuntap, master int) error {
	l, err := h.linkByName(t.Name)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	if l == nil {
		return errors.New("verifying: tap vanished")
	}
	got, ok := l.(*netlink.Tuntap)
	switch {
	case !ok:
		return fmt.Errorf("verifying: interface became a %s", kind(l))
	case !sameTap(got, want):
		return fmt.Errorf("verifying: got owner %d group %d flags %#x, want owner %d group %d flags %#x",
			got.Owner, got.Group, uint16(got.Flags&tapFlags), want.Owner, want.Group, uint16(want.Flags))
	case got.Attrs().Flags&net.FlagUp == 0:
		return errors.New("verifying: tap is not up")
	case master != 0 && got.Attrs().MasterIndex != master:
		return fmt.Errorf("verifying: tap is not attached to bridge %q", t.Bridge)
	}
	return nil
}

// bridgeIndex returns the ifindex of the bridge called name.
func (h *Host) bridgeIndex(name string) (int, error) {
	l, err := h.linkByName(name)
	switch {
	case err != nil:
		return 0, err
	case l == nil:
		return 0, fmt.Errorf("bridge %q: %w", name, ErrNoLink)
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return 0, fmt.Errorf("bridge %q: interface is a %s, not a bridge", name, kind(l))
	}
	return l.Attrs().Index, nil
}

// DeleteTap deletes the tap whatever its flags, over netlink: `ip tuntap del`
// fails on multi_queue taps unless given the same flags
// (https://github.com/microvm-nix/microvm.nix/issues/302). A missing tap is
// fine; a link of another kind is refused.
func (h *Host) DeleteTap(name string) error {
	if err := h.deleteLink(h.h, name, "tap"); err != nil {
		return fmt.Errorf("deleting tap %q: %w", name, err)
	}
	return nil
}

// deleteLink deletes name over nh if it is a link of kind want ("tap",
// "macvtap").
func (h *Host) deleteLink(nh *netlink.Handle, name, want string) error {
	if err := checkName(name); err != nil {
		return err
	}
	l, err := lookup(nh, name)
	switch {
	case err != nil:
		return err
	case l == nil:
		h.log.Debug("already gone", want, name)
		return nil
	case kind(l) != want:
		return &foreignError{name: name, kind: kind(l), want: want}
	}
	// ENODEV: deleted concurrently, which is the outcome we want.
	if err := nh.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return err
	}
	h.log.Info("deleted", want, name)
	return nil
}
