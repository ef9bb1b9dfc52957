package hostnet

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Macvtap is one line of share/microvm/macvtap-interfaces (`id mac link mode`)
// plus the user the hypervisor runs as.
type Macvtap struct {
	Name   string
	Parent string // the lower link, microvm.nix's `link`
	MAC    string // the guest's MAC, set on the macvtap itself
	Mode   string // private, vepa, bridge, passthru or source
	// Owner and Group get /dev/tapN, which the hypervisor opens.
	Owner, Group int
}

// macvtapModes are the modes microvm.nix accepts, by their `ip link` names.
var macvtapModes = map[string]netlink.MacvlanMode{
	"private":  netlink.MACVLAN_MODE_PRIVATE,
	"vepa":     netlink.MACVLAN_MODE_VEPA,
	"bridge":   netlink.MACVLAN_MODE_BRIDGE,
	"passthru": netlink.MACVLAN_MODE_PASSTHRU,
	"source":   netlink.MACVLAN_MODE_SOURCE,
}

// devWait bounds the wait for /dev/tapN, which devtmpfs creates
// asynchronously after the link exists.
const devWait = 2 * time.Second

// macvtap is the link m asks for, still without its ParentIndex.
func (m Macvtap) macvtap() (*netlink.Macvtap, error) {
	if err := checkName(m.Name); err != nil {
		return nil, err
	}
	if err := checkName(m.Parent); err != nil {
		return nil, fmt.Errorf("parent: %w", err)
	}
	mode, ok := macvtapModes[m.Mode]
	if !ok {
		return nil, fmt.Errorf("invalid mode %q: want private, vepa, bridge, passthru or source", m.Mode)
	}
	mac, err := net.ParseMAC(m.MAC)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("invalid MAC %q: want 6 bytes like 02:00:00:00:00:01", m.MAC)
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.HardwareAddr = m.Name, mac
	return &netlink.Macvtap{Macvlan: netlink.Macvlan{LinkAttrs: la, Mode: mode}}, nil
}

// sameMacvtap reports whether an existing macvtap can be kept.
func sameMacvtap(got, want *netlink.Macvtap) bool {
	return got.ParentIndex == want.ParentIndex && got.Mode == want.Mode &&
		bytes.Equal(got.HardwareAddr, want.HardwareAddr)
}

// EnsureMacvtap makes the macvtap exist on its parent with the guest MAC and
// mode, allmulticast on, IPv6 off, up, and its /dev/tapN owned by
// Owner:Group. It returns that device's path.
//
// /dev/tapN is named after the ifindex, which is per netns, while devtmpfs
// is global: a macvtap in another netns with the same ifindex shares the
// node name, so only one netns per host should hold macvtaps.
func (h *Host) EnsureMacvtap(m Macvtap) (devPath string, err error) {
	dev, _, err := h.ensureMacvtap(m)
	if err != nil {
		return "", fmt.Errorf("ensuring macvtap %q: %w", m.Name, err)
	}
	return dev, nil
}

// ensureMacvtap reports created whenever it left a new link behind.
func (h *Host) ensureMacvtap(m Macvtap) (dev string, created bool, err error) {
	owner, err := checkID("owner", m.Owner)
	if err != nil {
		return "", false, err
	}
	group, err := checkID("group", m.Group)
	if err != nil {
		return "", false, err
	}
	want, err := m.macvtap()
	if err != nil {
		return "", false, err
	}
	parent, err := h.linkByName(m.Parent)
	switch {
	case err != nil:
		return "", false, err
	case parent == nil:
		return "", false, fmt.Errorf("parent %q: %w", m.Parent, ErrNoLink)
	}
	want.ParentIndex = parent.Attrs().Index
	cur, err := h.linkByName(m.Name)
	if err != nil {
		return "", false, err
	}
	if cur != nil {
		got, ok := cur.(*netlink.Macvtap)
		switch {
		case !ok:
			return "", false, &foreignError{name: m.Name, kind: kind(cur), want: "macvtap"}
		case sameMacvtap(got, want):
			h.log.Debug("macvtap already present", "macvtap", m.Name)
		default:
			h.log.Info("replacing stale macvtap", "macvtap", m.Name,
				"parent_index", got.ParentIndex, "mac", got.HardwareAddr.String(), "mode", modeName(got.Mode))
			if err := h.h.LinkDel(cur); err != nil && !errors.Is(err, unix.ENODEV) {
				return "", false, fmt.Errorf("deleting stale macvtap: %w", err)
			}
			cur = nil
		}
	}
	if cur == nil {
		if err := h.h.LinkAdd(want); err != nil {
			return "", false, fmt.Errorf("creating on %q: %w", m.Parent, err)
		}
		if want.Index == 0 {
			return "", true, errors.New("created but not found")
		}
		h.log.Info("created macvtap", "macvtap", m.Name, "parent", m.Parent, "mac", m.MAC, "mode", m.Mode)
		cur, created = want, true
	}
	if cur.Attrs().Allmulti == 0 {
		if err := h.h.LinkSetAllmulticastOn(cur); err != nil {
			return "", created, fmt.Errorf("setting allmulticast: %w", err)
		}
	}
	// Before up, so the host never starts IPv6 autoconfiguration on it.
	if err := h.disableIPv6(m.Name); err != nil {
		return "", created, err
	}
	if cur.Attrs().Flags&net.FlagUp == 0 {
		if err := h.h.LinkSetUp(cur); err != nil {
			return "", created, fmt.Errorf("setting up: %w", err)
		}
	}
	dev = filepath.Join(h.devDir, "tap"+strconv.Itoa(cur.Attrs().Index))
	if err := chownDev(dev, owner, group); err != nil {
		return "", created, err
	}
	return dev, created, h.verifyMacvtap(m.Name, want)
}

// disableIPv6 writes 1 to the macvtap's disable_ipv6 when the kernel has
// one (not with IPv6 compiled out or disabled at boot). /proc/sys/net shows
// the reading thread's netns, hence inNetNS.
func (h *Host) disableIPv6(name string) error {
	return h.inNetNS(func() error {
		p := filepath.Join("/proc/sys/net/ipv6/conf", name, "disable_ipv6")
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
			h.log.Debug("no disable_ipv6 knob", "macvtap", name)
			return nil
		}
		if err == nil {
			err = os.WriteFile(p, []byte("1"), 0)
		}
		if err != nil {
			return fmt.Errorf("disabling IPv6: %w", err)
		}
		return nil
	})
}

// chownDev waits for the macvtap character device and gives it to the VM
// user. Lstat/Lchown: a symlink planted there must not redirect the chown.
func chownDev(dev string, uid, gid uint32) error {
	deadline := time.Now().Add(devWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		fi, err := os.Lstat(dev)
		if err == nil && fi.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice {
			return fmt.Errorf("%s is not a character device", dev)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", dev, devWait)
		}
		time.Sleep(delay)
	}
	if err := os.Lchown(dev, int(uid), int(gid)); err != nil {
		return fmt.Errorf("giving %s to %d:%d: %w", dev, uid, gid, err)
	}
	return nil
}

// verifyMacvtap reads the macvtap back after the changes.
func (h *Host) verifyMacvtap(name string, want *netlink.Macvtap) error {
	l, err := h.linkByName(name)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	if l == nil {
		return errors.New("verifying: macvtap vanished")
	}
	got, ok := l.(*netlink.Macvtap)
	switch {
	case !ok:
		return fmt.Errorf("verifying: interface became a %s", kind(l))
	case !sameMacvtap(got, want):
		return fmt.Errorf("verifying: got parent index %d MAC %s mode %s, want %d %s %s", got.ParentIndex,
			got.HardwareAddr, modeName(got.Mode), want.ParentIndex, want.HardwareAddr, modeName(want.Mode))
	case got.Allmulti == 0 || got.Flags&net.FlagUp == 0:
		return errors.New("verifying: macvtap is not up with allmulticast")
	}
	return nil
}

// DeleteMacvtap deletes the macvtap; its /dev/tapN goes with it. A missing
// macvtap is fine; a link of another kind is refused.
func (h *Host) DeleteMacvtap(name string) error {
	if err := h.deleteLink(h.h, name, "macvtap"); err != nil {
		return fmt.Errorf("deleting macvtap %q: %w", name, err)
	}
	return nil
}

// modeName is the `ip link` name of a macvtap mode, for messages.
func modeName(m netlink.MacvlanMode) string {
	for _, k := range slices.Sorted(maps.Keys(macvtapModes)) {
		if macvtapModes[k] == m {
			return k
		}
	}
	return strconv.Itoa(int(m))
}
