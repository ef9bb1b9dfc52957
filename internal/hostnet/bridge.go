package hostnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Bridge is the bridge of a managed network, with the host's address on
// it. Marker is the bridge's alias (IFLA_IFALIAS): a bridge carrying it is
// ours to change and delete, whoever created it and whenever, with no
// record on disk that a crash could lose; any other interface of that
// name is somebody else's and refused. The kernel ignores an alias in
// the creating request, so a bridge is created under a temporary name,
// marked, then renamed: a crash never leaves an unmarked bridge under the
// real name, and a marked one under a temporary name is picked up.
type Bridge struct {
	Name    string
	Address netip.Prefix // the host's address and the subnet's length
	Marker  string
}

// EnsureBridge makes the bridge exist, marked as ours, with exactly
// b.Address as its IPv4 address, and up. It refuses an interface of that
// name that is not ours, and an address another interface of the host
// already has in the subnet (routing would be ambiguous).
func (h *Host) EnsureBridge(b Bridge) error {
	if err := h.ensureBridge(b); err != nil {
		return fmt.Errorf("ensuring bridge %q: %w", b.Name, err)
	}
	return nil
}

func (h *Host) ensureBridge(b Bridge) error {
	if err := checkName(b.Name); err != nil {
		return err
	}
	if b.Marker == "" || !b.Address.Addr().Is4() {
		return fmt.Errorf("invalid bridge %+v: want a marker and an IPv4 address", b)
	}
	cur, err := h.ownBridge(b.Name, b.Marker)
	if err != nil {
		return err
	}
	if err := h.checkSubnetFree(b.Address, cur); err != nil {
		return err
	}
	if cur == nil {
		if cur, err = h.createBridge(b); err != nil {
			return err
		}
	}
	if err := h.setOnlyAddress(cur, b.Address); err != nil {
		return err
	}
	if cur.Attrs().Flags&net.FlagUp == 0 {
		if err := h.h.LinkSetUp(cur); err != nil {
			return fmt.Errorf("setting up: %w", err)
		}
	}
	return h.verifyBridge(b)
}

// createBridge creates the bridge, marked, or renames a marked one a
// crash left under its temporary name.
func (h *Host) createBridge(b Bridge) (netlink.Link, error) {
	l, err := h.h.LinkByAlias(b.Marker)
	var nf netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return nil, fmt.Errorf("looking up alias %q: %w", b.Marker, err)
	}
	if err != nil || l.Type() != "bridge" {
		la := netlink.NewLinkAttrs()
		la.Name = fmt.Sprintf("mvnew%08x", rand.Uint32())
		if err := h.h.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return nil, fmt.Errorf("creating: %w", err)
		}
		if l, err = h.linkByName(la.Name); err != nil || l == nil {
			return nil, errors.Join(errors.New("created but not found"), err)
		}
		if err := h.h.LinkSetAlias(l, b.Marker); err != nil {
			return nil, errors.Join(fmt.Errorf("marking: %w", err), h.h.LinkDel(l))
		}
	} else if err := h.h.LinkSetDown(l); err != nil {
		return nil, fmt.Errorf("taking over %q: %w", l.Attrs().Name, err)
	}
	if err := h.h.LinkSetName(l, b.Name); err != nil {
		return nil, fmt.Errorf("renaming %q: %w", l.Attrs().Name, err)
	}
	h.log.Info("created bridge", "bridge", b.Name, "address", b.Address)
	l, err = h.linkByName(b.Name)
	if err != nil || l == nil {
		return nil, errors.Join(errors.New("created but not found"), err)
	}
	return l, nil
}

// ownBridge returns the bridge called name if it carries marker, nil if
// there is no such interface, and an ErrForeign error for anything else.
func (h *Host) ownBridge(name, marker string) (netlink.Link, error) {
	l, err := h.linkByName(name)
	switch {
	case err != nil || l == nil:
		return nil, err
	case l.Type() != "bridge":
		return nil, &foreignError{name: name, kind: kind(l), want: "bridge"}
	case l.Attrs().Alias != marker:
		return nil, fmt.Errorf("interface %q exists but microvm did not create it (its alias is %q, not %q); choose another bridge name for the network, or use host.toml's bridge to attach taps to a bridge of your own: %w",
			name, l.Attrs().Alias, marker, ErrForeign)
	}
	return l, nil
}

// checkSubnetFree refuses a subnet that overlaps an address of another
// interface than own (nil: none is ours yet).
func (h *Host) checkSubnetFree(p netip.Prefix, own netlink.Link) error {
	var addrs []netlink.Addr
	var err error
	for range dumpRetries {
		addrs, err = h.h.AddrList(nil, netlink.FAMILY_V4)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if own != nil && a.LinkIndex == own.Attrs().Index {
			continue
		}
		other, ok := prefixOf(a.IPNet)
		if !ok || !other.Overlaps(p) {
			continue
		}
		name := fmt.Sprint(a.LinkIndex)
		if l, err := h.h.LinkByIndex(a.LinkIndex); err == nil {
			name = l.Attrs().Name
		}
		return fmt.Errorf("subnet %s overlaps the address %s of interface %q; choose another address for the network in host.toml", p.Masked(), other, name)
	}
	return nil
}

// setOnlyAddress makes want the only IPv4 address of l: an address left
// from an earlier configuration of the network goes.
func (h *Host) setOnlyAddress(l netlink.Link, want netip.Prefix) error {
	addrs, err := h.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses: %w", err)
	}
	have := false
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok && p == want {
			have = true
			continue
		}
		if err := h.h.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("removing stale address %s: %w", a.IPNet, err)
		}
		h.log.Info("removed stale address", "bridge", l.Attrs().Name, "address", a.IPNet.String())
	}
	if have {
		return nil
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: want.Addr().AsSlice(), Mask: net.CIDRMask(want.Bits(), 32)}}
	if err := h.h.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding address %s: %w", want, err)
	}
	return nil
}

// verifyBridge reads the bridge back after the changes.
func (h *Host) verifyBridge(b Bridge) error {
	l, err := h.ownBridge(b.Name, b.Marker)
	switch {
	case err != nil:
		return fmt.Errorf("verifying: %w", err)
	case l == nil:
		return errors.New("verifying: bridge vanished")
	case l.Attrs().Flags&net.FlagUp == 0:
		return errors.New("verifying: bridge is not up")
	}
	addrs, err := h.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	if len(addrs) != 1 {
		return fmt.Errorf("verifying: bridge has %d IPv4 addresses, want only %s", len(addrs), b.Address)
	}
	if p, _ := prefixOf(addrs[0].IPNet); p != b.Address {
		return fmt.Errorf("verifying: bridge has address %s, want %s", addrs[0].IPNet, b.Address)
	}
	return nil
}

// DeleteBridge deletes the bridge if it carries marker; its addresses go
// with it, and its ports (taps of running VMs) are released, not deleted.
// A missing bridge is fine; one that is not ours is refused.
func (h *Host) DeleteBridge(name, marker string) error {
	l, err := h.ownBridge(name, marker)
	if err == nil && l != nil {
		if err = h.h.LinkDel(l); errors.Is(err, unix.ENODEV) {
			err = nil
		} else if err == nil {
			h.log.Info("deleted bridge", "bridge", name)
		}
	}
	if err != nil {
		return fmt.Errorf("deleting bridge %q: %w", name, err)
	}
	return nil
}

// BridgePorts returns the names of the interfaces attached to the bridge
// called name (none when it does not exist).
func (h *Host) BridgePorts(name string) ([]string, error) {
	br, err := h.linkByName(name)
	if err != nil || br == nil {
		return nil, err
	}
	var links []netlink.Link
	for range dumpRetries {
		links, err = h.h.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	var ports []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l.Attrs().Name)
		}
	}
	return ports, nil
}

// prefixOf converts a netlink address to a prefix, keeping the host bits.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// FindBridge returns the name of the bridge carrying marker, or "" when
// there is none: how a network is found after host.toml forgot it.
func (h *Host) FindBridge(marker string) (string, error) {
	l, err := h.h.LinkByAlias(marker)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("looking up alias %q: %w", marker, err)
	case l.Type() != "bridge":
		return "", nil
	}
	return l.Attrs().Name, nil
}
