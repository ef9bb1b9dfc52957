package hostnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

const marker = "microvm network test"

// bridgeAddrs returns the bridge's IPv4 addresses as strings.
func (e *env) addrs(t *testing.T, name string) []string {
	t.Helper()
	as, err := e.nl.AddrList(e.link(t, name), netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	return out
}

func TestEnsureBridge(t *testing.T) {
	e := newEnv(t)
	b := Bridge{Name: "mvt0", Address: netip.MustParsePrefix("10.77.0.1/24"), Marker: marker}
	if err := e.host.EnsureBridge(b); err != nil {
		t.Fatal(err)
	}
	l := e.link(t, "mvt0")
	if l.Type() != "bridge" || l.Attrs().Alias != marker || l.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("got %s alias %q flags %v; want an up bridge with the marker", l.Type(), l.Attrs().Alias, l.Attrs().Flags)
	}
	if got := e.addrs(t, "mvt0"); len(got) != 1 || got[0] != "10.77.0.1/24" {
		t.Errorf("addresses %v; want [10.77.0.1/24]", got)
	}
	// Idempotent: the same bridge, not a new one.
	if err := e.host.EnsureBridge(b); err != nil {
		t.Fatal(err)
	}
	if e.link(t, "mvt0").Attrs().Index != l.Attrs().Index {
		t.Error("second EnsureBridge recreated the bridge")
	}
	// A changed address replaces the old one.
	b.Address = netip.MustParsePrefix("10.78.0.1/16")
	if err := e.host.EnsureBridge(b); err != nil {
		t.Fatal(err)
	}
	if got := e.addrs(t, "mvt0"); len(got) != 1 || got[0] != "10.78.0.1/16" {
		t.Errorf("after an address change: %v; want [10.78.0.1/16]", got)
	}
	e.addTap(t, "mvt-port", netlink.TUNTAP_NO_PI, 0, 0)
	if err := e.nl.LinkSetMaster(e.link(t, "mvt-port"), e.link(t, "mvt0")); err != nil {
		t.Fatal(err)
	}
	if ports, err := e.host.BridgePorts("mvt0"); err != nil || len(ports) != 1 || ports[0] != "mvt-port" {
		t.Errorf("BridgePorts = %v, %v; want [mvt-port]", ports, err)
	}
	for range 2 {
		if err := e.host.DeleteBridge("mvt0", marker); err != nil {
			t.Fatal(err)
		}
	}
	if e.link(t, "mvt0") != nil {
		t.Fatal("bridge survived DeleteBridge")
	}
	if e.link(t, "mvt-port") == nil {
		t.Error("deleting the bridge deleted its port; want it released")
	}
}

// TestBridgeNotOurs: an interface of that name that microvm did not make,
// bridge or not, is neither changed nor deleted.
func TestBridgeNotOurs(t *testing.T) {
	e := newEnv(t)
	e.addBridge(t, "br-user")
	e.addVeth(t, "ve-user", "ve-peer")
	for _, name := range []string{"br-user", "ve-user"} {
		b := Bridge{Name: name, Address: netip.MustParsePrefix("10.77.0.1/24"), Marker: marker}
		if err := e.host.EnsureBridge(b); !errors.Is(err, ErrForeign) {
			t.Errorf("EnsureBridge(%s) = %v; want ErrForeign", name, err)
		}
		if err := e.host.DeleteBridge(name, marker); !errors.Is(err, ErrForeign) {
			t.Errorf("DeleteBridge(%s) = %v; want ErrForeign", name, err)
		}
		if e.link(t, name) == nil || len(e.addrs(t, name)) != 0 {
			t.Errorf("%s was changed", name)
		}
	}
}

// TestBridgeSubnetTaken: a subnet overlapping another interface's address
// is refused before anything is created.
func TestBridgeSubnetTaken(t *testing.T) {
	e := newEnv(t)
	e.addVeth(t, "uplink", "uplink-peer")
	a, _ := netlink.ParseAddr("10.77.5.3/16")
	if err := e.nl.AddrAdd(e.link(t, "uplink"), a); err != nil {
		t.Fatal(err)
	}
	err := e.host.EnsureBridge(Bridge{Name: "mvt0", Address: netip.MustParsePrefix("10.77.0.1/24"), Marker: marker})
	want := `subnet 10.77.0.0/24 overlaps the address 10.77.5.3/16 of interface "uplink"; choose another address`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v; want %q", err, want)
	}
	if e.link(t, "mvt0") != nil {
		t.Error("the bridge was created")
	}
}

// TestIPv4Forwarding changes forwarding in the test's netns only.
func TestIPv4Forwarding(t *testing.T) {
	e := newEnv(t)
	outside, err := os.ReadFile(ipForward)
	if err != nil {
		t.Fatal(err)
	}
	if on, err := e.host.IPv4Forwarding(); err != nil || on {
		t.Fatalf("a fresh netns forwards: %v, %v", on, err)
	}
	if err := e.host.SetIPv4Forwarding(true); err != nil {
		t.Fatal(err)
	}
	if on, err := e.host.IPv4Forwarding(); err != nil || !on {
		t.Fatalf("after setting: %v, %v", on, err)
	}
	if after, _ := os.ReadFile(ipForward); string(after) != string(outside) {
		t.Errorf("the test's own netns changed: %q → %q", outside, after)
	}
	if err := e.host.SetIPv4Forwarding(false); err != nil {
		t.Fatal(err)
	}
}

// TestBridgeAfterCrash: a crash between creating and renaming left a
// marked bridge under its temporary name; it becomes the bridge.
func TestBridgeAfterCrash(t *testing.T) {
	e := newEnv(t)
	idx := e.addBridge(t, "mvnew12345678")
	if err := e.nl.LinkSetAlias(e.link(t, "mvnew12345678"), marker); err != nil {
		t.Fatal(err)
	}
	if err := e.host.EnsureBridge(Bridge{Name: "mvt0", Address: netip.MustParsePrefix("10.77.0.1/24"), Marker: marker}); err != nil {
		t.Fatal(err)
	}
	if l := e.link(t, "mvt0"); l == nil || l.Attrs().Index != idx {
		t.Errorf("the marked bridge was not taken over: %v", l)
	}
	if e.link(t, "mvnew12345678") != nil {
		t.Error("the temporary name is still there")
	}
}
