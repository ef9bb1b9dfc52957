package hostnet

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

const nobody = 65534

// checkTap fails unless name is an up, persistent tap with these settings
// and no queue held open.
func checkTap(t *testing.T, e *env, name string, owner, group uint32, flags netlink.TuntapFlag) *netlink.Tuntap {
	t.Helper()
	got := e.tap(t, name)
	if got.Mode != netlink.TUNTAP_MODE_TAP || got.Owner != owner || got.Group != group || got.Flags&tapFlags != flags {
		t.Errorf("%s: got mode %v owner %d group %d flags %#x, want tap %d %d %#x",
			name, got.Mode, got.Owner, got.Group, uint16(got.Flags), owner, group, uint16(flags))
	}
	if got.NonPersist || got.Queues != 0 {
		t.Errorf("%s: nonpersist %v, %d queues open; want persistent with none", name, got.NonPersist, got.Queues)
	}
	if got.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s: not up", name)
	}
	return got
}

func TestEnsureTapOwnerGroupVnetHdr(t *testing.T) {
	e := newEnv(t)
	if err := e.host.EnsureTap(Tap{Name: "vm-a", Owner: nobody, Group: 100, VnetHdr: true}); err != nil {
		t.Fatal(err)
	}
	checkTap(t, e, "vm-a", nobody, 100, netlink.TUNTAP_NO_PI|netlink.TUNTAP_VNET_HDR)
	if err := e.host.EnsureTap(Tap{Name: "vm-root"}); err != nil {
		t.Fatal(err)
	}
	checkTap(t, e, "vm-root", 0, 0, netlink.TUNTAP_NO_PI)
}

func TestMultiQueueTapCreateDelete(t *testing.T) {
	e := newEnv(t)
	mq := netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_MULTI_QUEUE
	if err := e.host.EnsureTap(Tap{Name: "vm-mq", Owner: nobody, VnetHdr: true, MultiQueue: true}); err != nil {
		t.Fatal(err)
	}
	checkTap(t, e, "vm-mq", nobody, 0, mq)
	if err := e.host.DeleteTap("vm-mq"); err != nil {
		t.Fatal(err)
	}
	if e.link(t, "vm-mq") != nil {
		t.Fatal("vm-mq still exists")
	}
	// Made elsewhere with flags we would not choose: still deletable,
	// unlike with `ip tuntap del` (microvm.nix #302).
	e.addTap(t, "vm-other", netlink.TUNTAP_MULTI_QUEUE, 1000, 0)
	if err := e.host.DeleteTap("vm-other"); err != nil {
		t.Fatal(err)
	}
	if e.link(t, "vm-other") != nil {
		t.Fatal("vm-other still exists")
	}
	if err := e.host.DeleteTap("vm-other"); err != nil {
		t.Fatalf("deleting a missing tap: %v", err)
	}
}

func TestStaleTapReplaced(t *testing.T) {
	e := newEnv(t)
	e.addTap(t, "vm-a", netlink.TUNTAP_NO_PI|netlink.TUNTAP_MULTI_QUEUE, 1000, 0)
	old := e.tap(t, "vm-a").Attrs().Index
	if err := e.host.EnsureTap(Tap{Name: "vm-a", Owner: nobody, Group: nobody, VnetHdr: true}); err != nil {
		t.Fatal(err)
	}
	got := checkTap(t, e, "vm-a", nobody, nobody, netlink.TUNTAP_NO_PI|netlink.TUNTAP_VNET_HDR)
	if got.Attrs().Index == old {
		t.Error("stale tap was kept, want it replaced")
	}
}

func TestTapNameTakenByVeth(t *testing.T) {
	e := newEnv(t)
	e.addVeth(t, "vm-a", "vm-a-peer")
	idx := e.link(t, "vm-a").Attrs().Index

	err := e.host.SetupTaps("web", []Tap{{Name: "vm-a", Owner: nobody}})
	if !errors.Is(err, ErrForeign) {
		t.Fatalf("got %v, want ErrForeign", err)
	}
	for _, s := range []string{`vm "web"`, `tap "vm-a"`, `interface "vm-a" exists and is a veth, not a tap; refusing to delete it`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if err := e.host.TeardownTaps("web", []string{"vm-a"}); !errors.Is(err, ErrForeign) {
		t.Errorf("teardown: got %v, want ErrForeign", err)
	}
	l := e.link(t, "vm-a")
	if l == nil || l.Type() != "veth" || l.Attrs().Index != idx {
		t.Fatalf("veth did not survive: %v", l)
	}
}

func TestTapBridge(t *testing.T) {
	e := newEnv(t)
	br := e.addBridge(t, "br0")
	if err := e.host.EnsureTap(Tap{Name: "vm-a", Owner: nobody, VnetHdr: true, Bridge: "br0"}); err != nil {
		t.Fatal(err)
	}
	if got := e.tap(t, "vm-a").Attrs().MasterIndex; got != br {
		t.Errorf("master index %d, want %d", got, br)
	}
	// An existing tap that lost its master is attached again.
	if err := e.nl.LinkSetNoMaster(e.tap(t, "vm-a")); err != nil {
		t.Fatal(err)
	}
	if err := e.host.EnsureTap(Tap{Name: "vm-a", Owner: nobody, VnetHdr: true, Bridge: "br0"}); err != nil {
		t.Fatal(err)
	}
	if got := e.tap(t, "vm-a").Attrs().MasterIndex; got != br {
		t.Errorf("after re-run: master index %d, want %d", got, br)
	}

	e.addVeth(t, "ve0", "ve1")
	for _, c := range []struct{ bridge, want string }{
		{"nope", `bridge "nope": no such interface`},
		{"ve0", `bridge "ve0": interface is a veth, not a bridge`},
	} {
		err := e.host.EnsureTap(Tap{Name: "vm-b", Bridge: c.bridge})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bridge %q: got %v, want %q", c.bridge, err, c.want)
		}
		if e.link(t, "vm-b") != nil {
			t.Errorf("bridge %q: tap vm-b was created", c.bridge)
		}
	}
}

func TestTapValidation(t *testing.T) {
	for _, c := range []struct {
		tap  Tap
		want string
	}{
		{Tap{Name: ""}, "invalid interface name"},
		{Tap{Name: "a-name-longer-than-15"}, "want 1 to 15 bytes"},
		{Tap{Name: "a/b"}, "contains '/'"},
		{Tap{Name: "a b"}, "contains ' '"},
		{Tap{Name: "ok", Owner: -1}, "invalid owner -1"},
		{Tap{Name: "ok", Group: 1 << 32}, "invalid group"},
	} {
		_, err := c.tap.tuntap()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.tap, err, c.want)
		}
	}
	for _, c := range []struct {
		m    Macvtap
		want string
	}{
		{Macvtap{Name: "m", Parent: "eth0", MAC: "02:00:00:00:00:01", Mode: "bogus"}, `invalid mode "bogus"`},
		{Macvtap{Name: "m", Parent: "eth0", MAC: "02:00", Mode: "bridge"}, `invalid MAC "02:00"`},
		{Macvtap{Name: "m", Parent: "", MAC: "02:00:00:00:00:01", Mode: "bridge"}, "parent: invalid interface name"},
	} {
		_, err := c.m.macvtap()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.m, err, c.want)
		}
	}
}
