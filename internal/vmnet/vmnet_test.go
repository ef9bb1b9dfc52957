package vmnet

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/runner"
)

func defaultNet() map[string]hostconfig.Network {
	return map[string]hostconfig.Network{"default": {Bridge: "microvm0", Address: "10.77.0.1/24"}}
}

// state is what Up creates, read back in the host netns.
func (w *world) state(t *testing.T) (bridge netlink.Link, addrs []string, table bool, forwarding bool) {
	t.Helper()
	nl, err := netlink.NewHandleAt(w.hostNS)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	if l, err := nl.LinkByName("microvm0"); err == nil {
		bridge = l
		as, _ := nl.AddrList(l, netlink.FAMILY_V4)
		for _, a := range as {
			addrs = append(addrs, a.IPNet.String())
		}
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(w.hostNS)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTableOfFamily("microvm-default", nftables.TableFamilyIPv4)
	table = err == nil
	forwarding = strings.TrimSpace(in(t, w.host, "cat", "/proc/sys/net/ipv4/ip_forward")) == "1"
	return
}

// TestUpDown: the bridge with its address, forwarding and the NAT table
// are made, idempotently, and removed; forwarding goes back off because
// microvm turned it on.
func TestUpDown(t *testing.T) {
	w := newWorld(t, defaultNet())
	for range 2 {
		if err := w.m.Up("default"); err != nil {
			t.Fatal(err)
		}
	}
	br, addrs, table, fwd := w.state(t)
	if br == nil || br.Type() != "bridge" || br.Attrs().Alias != "microvm network default" {
		t.Fatalf("bridge %v; want microvm0 marked as ours", br)
	}
	if len(addrs) != 1 || addrs[0] != "10.77.0.1/24" || !table || !fwd {
		t.Fatalf("addresses %v, table %v, forwarding %v; want 10.77.0.1/24, the table, forwarding on", addrs, table, fwd)
	}

	w.guest(t, "microvm0", "02:00:00:00:00:42") // a port, as a VM's tap
	if err := w.m.Down("default", false); !errors.Is(err, ErrInUse) {
		t.Fatalf("Down with a port: %v; want ErrInUse", err)
	}
	if br, _, _, _ := w.state(t); br == nil {
		t.Fatal("Down without force removed a bridge in use")
	}
	for range 2 {
		if err := w.m.Down("default", true); err != nil {
			t.Fatal(err)
		}
	}
	br, _, table, fwd = w.state(t)
	if br != nil || table || fwd {
		t.Errorf("after Down: bridge %v, table %v, forwarding %v; want none, none, off", br, table, fwd)
	}
	if _, err := os.Stat(filepath.Join(w.m.Runtime, runDir, forwardMarker)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("forwarding marker left: %v", err)
	}
}

// TestForwardingLeftOn: forwarding that was on before microvm stays on.
func TestForwardingLeftOn(t *testing.T) {
	w := newWorld(t, defaultNet())
	in(t, w.host, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	if err := w.m.Up("default"); err != nil {
		t.Fatal(err)
	}
	if err := w.m.Down("default", false); err != nil {
		t.Fatal(err)
	}
	if _, _, _, fwd := w.state(t); !fwd {
		t.Error("Down turned off forwarding microvm did not turn on")
	}
}

// TestNoNAT: nat = false makes no table, and removes one left from before.
func TestNoNAT(t *testing.T) {
	w := newWorld(t, defaultNet())
	if err := w.m.Up("default"); err != nil {
		t.Fatal(err)
	}
	no := false
	n := w.m.Networks["default"]
	n.NAT = &no
	w.m.Networks["default"] = n
	if err := w.m.Up("default"); err != nil {
		t.Fatal(err)
	}
	if _, _, table, _ := w.state(t); table {
		t.Error("the NAT table survived nat = false")
	}
}

// serveFor runs Serve on a fresh manager sharing w's files, as another
// process (the daemon after a restart, or a foreground run) would.
func (w *world) serveFor(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	m := *w.m
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, []string{"default"}) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	}
}

// TestDHCPAndNAT: a guest gets a lease from a real DHCP client, the same
// one from the next server for the same MAC, and reaches the fake
// uplink's peer through NAT (the peer has no route back to the guests).
func TestDHCPAndNAT(t *testing.T) {
	w := newWorld(t, defaultNet())
	if err := w.m.Up("default"); err != nil {
		t.Fatal(err)
	}
	stop := w.serveFor(t)
	g := w.guest(t, "microvm0", "02:00:00:00:00:42")
	ip := udhcpc(t, g)
	if !strings.HasPrefix(ip, "10.77.0.") || ip == "10.77.0.1" {
		t.Fatalf("leased %s; want a guest address of 10.77.0.0/24", ip)
	}
	in(t, g, "busybox", "ping", "-c", "1", "-W", "5", "192.0.2.2")
	// Without the masquerade the peer's replies have no way back: the
	// ping above went through NAT.
	no := false
	n := w.m.Networks["default"]
	n.NAT = &no
	w.m.Networks["default"] = n
	if err := w.m.Up("default"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", g, "busybox", "ping", "-c", "1", "-W", "1", "192.0.2.2").CombinedOutput(); err == nil {
		t.Errorf("ping without NAT got through:\n%s", out)
	}
	n.NAT = nil
	w.m.Networks["default"] = n
	if err := w.m.Up("default"); err != nil {
		t.Fatal(err)
	}
	stop()

	// Another server (a restarted daemon) gives the same MAC the same
	// address; another MAC gets another one.
	stop = w.serveFor(t)
	defer stop()
	in(t, g, "ip", "addr", "flush", "dev", "eth0")
	if again := udhcpc(t, g); again != ip {
		t.Errorf("after a restart: %s; want %s again", again, ip)
	}
	if other := udhcpc(t, w.guest(t, "microvm0", "02:00:00:00:00:43")); other == ip {
		t.Errorf("two MACs got %s", ip)
	}
	r := &runner.Runner{TapNetworks: []runner.TapNetwork{{ID: "t", Network: "default", MAC: "02:00:00:00:00:42"}}}
	if got := Addresses(w.m.Leases, r); len(got) != 1 || got[0] != ip {
		t.Errorf("Addresses = %v; want [%s]", got, ip)
	}
}
