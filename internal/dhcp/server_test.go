package dhcp

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// newServer is a server on 10.77.0.1/24 with a lease file in dir and a
// clock the test moves.
func newServer(t *testing.T, dir string, now *time.Time) *Server {
	t.Helper()
	s := &Server{
		Addr:   netip.MustParsePrefix("10.77.0.1/24"),
		DNS:    []netip.Addr{netip.MustParseAddr("192.0.2.53")},
		Leases: filepath.Join(dir, "leases.json"),
		Now:    func() time.Time { return *now },
	}
	if err := s.load(); err != nil {
		t.Fatal(err)
	}
	return s
}

func packet(t *testing.T, mac string, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(typ)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lease runs DISCOVER and REQUEST for mac and returns the address.
func lease(t *testing.T, s *Server, mac string) netip.Addr {
	t.Helper()
	offer, to := s.Reply(packet(t, mac, dhcpv4.MessageTypeDiscover))
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("%s: DISCOVER got %v; want an offer", mac, offer)
	}
	if !to.IP.Equal(net.IPv4bcast) || to.Port != 68 {
		t.Errorf("offer to %v; want a broadcast to port 68", to)
	}
	ack, _ := s.Reply(packet(t, mac, dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 77, 0, 1)))))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(offer.YourIPAddr) {
		t.Fatalf("%s: REQUEST got %v; want an ACK of %s", mac, ack, offer.YourIPAddr)
	}
	a, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	return a
}

func TestLeaseAndOptions(t *testing.T) {
	now := t0
	s := newServer(t, t.TempDir(), &now)
	offer, _ := s.Reply(packet(t, "02:00:00:00:00:01", dhcpv4.MessageTypeDiscover))
	a, _ := netip.AddrFromSlice(offer.YourIPAddr.To4())
	if _, err := os.Stat(s.Leases); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an offer wrote the lease file (%v); want only requests to", err)
	}
	if !s.Addr.Contains(a) || a == s.Addr.Addr() || a.As4()[3] == 0 || a.As4()[3] == 255 {
		t.Errorf("offered %s; want a guest address of 10.77.0.0/24", a)
	}
	if r := offer.Router(); len(r) != 1 || !r[0].Equal(net.IPv4(10, 77, 0, 1)) {
		t.Errorf("router %v; want 10.77.0.1", r)
	}
	if m := offer.SubnetMask(); m.String() != "ffffff00" {
		t.Errorf("mask %v", m)
	}
	if d := offer.DNS(); len(d) != 1 || !d[0].Equal(net.IPv4(192, 0, 2, 53)) {
		t.Errorf("dns %v", d)
	}
	if lt := offer.IPAddressLeaseTime(0); lt != DefaultLeaseTime {
		t.Errorf("lease time %v", lt)
	}
	if got := lease(t, s, "02:00:00:00:00:01"); got != a {
		t.Errorf("acked %s, offered %s", got, a)
	}
	if b := lease(t, s, "02:00:00:00:00:02"); b == a {
		t.Errorf("two MACs got %s", a)
	}
}

// TestStableAcrossRestarts: the same MAC gets the same address from a
// new server reading the lease file, even after its lease expired and
// was released, and after other MACs came and went.
func TestStableAcrossRestarts(t *testing.T) {
	dir, now := t.TempDir(), t0
	s := newServer(t, dir, &now)
	a := lease(t, s, "02:00:00:00:00:0a")
	b := lease(t, s, "02:00:00:00:00:0b")
	s.Reply(packet(t, "02:00:00:00:00:0a", dhcpv4.MessageTypeRelease))
	now = now.Add(48 * time.Hour)

	s2 := newServer(t, dir, &now)
	for i := range 20 {
		lease(t, s2, net.HardwareAddr{2, 0, 0, 1, 0, byte(i)}.String())
	}
	if got := lease(t, s2, "02:00:00:00:00:0a"); got != a {
		t.Errorf("after a restart: %s; want %s again", got, a)
	}
	if got, ok, err := Lookup(s2.Leases, "02:00:00:00:00:0b"); err != nil || !ok || got != b {
		t.Errorf("Lookup = %s, %v, %v; want %s", got, ok, err, b)
	}
}

// TestRequestChecks: a request for an address that is not the MAC's is
// refused; one for another server's offer is ignored; a renewing client
// (ciaddr set) gets its ACK unicast.
func TestRequestChecks(t *testing.T) {
	now := t0
	s := newServer(t, t.TempDir(), &now)
	a := lease(t, s, "02:00:00:00:00:01")
	other := a.Next()
	if other == s.Addr.Addr() {
		other = other.Next()
	}
	nak, to := s.Reply(packet(t, "02:00:00:00:00:01", dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(other.AsSlice()))))
	if nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak || !to.IP.Equal(net.IPv4bcast) {
		t.Errorf("request for %s: %v to %v; want a broadcast NAK", other, nak, to)
	}
	if r, _ := s.Reply(packet(t, "02:00:00:00:00:01", dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 77, 0, 254))))); r != nil {
		t.Errorf("request for another server: answered %v", r)
	}
	ack, to := s.Reply(packet(t, "02:00:00:00:00:01", dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(a.AsSlice())))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || !to.IP.Equal(a.AsSlice()) {
		t.Errorf("renewal: %v to %v; want an ACK unicast to %s", ack, to, a)
	}
	if r, _ := s.Reply(packet(t, "02:00:00:00:00:01", dhcpv4.MessageTypeDiscover, dhcpv4.WithGatewayIP(net.IPv4(192, 0, 2, 1)))); r != nil {
		t.Error("a relayed request was answered")
	}
}

// TestPoolExhausted: a /29 has five guest addresses; a sixth MAC gets
// none until a lease expires, and then the oldest expired one.
func TestPoolExhausted(t *testing.T) {
	now := t0
	s := newServer(t, t.TempDir(), &now)
	s.Addr = netip.MustParsePrefix("10.77.0.1/29")
	s.pool = newPool(s.Addr, nil)
	got := map[netip.Addr]string{}
	for i := range 5 {
		mac := net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}.String()
		a := lease(t, s, mac)
		if prev, dup := got[a]; dup {
			t.Fatalf("%s and %s both got %s", prev, mac, a)
		}
		got[a] = mac
		now = now.Add(time.Minute)
	}
	if _, _, err := s.pool.addrFor("02:00:00:00:01:00", now, now); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("sixth MAC: %v; want ErrPoolExhausted", err)
	}
	now = now.Add(2 * DefaultLeaseTime)
	if a := lease(t, s, "02:00:00:00:01:00"); got[a] != "02:00:00:00:00:00" {
		t.Errorf("reclaimed %s of %s; want the oldest lease's", a, got[a])
	}
}

func TestLeaseFileProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"version": 1, "leases": [{"mac": "x", "adr": "1.2.3.4"}]}`), 0o644)
	if _, err := ReadLeases(bad); err == nil {
		t.Error("an unknown field was accepted")
	}
	future := filepath.Join(dir, "future.json")
	os.WriteFile(future, []byte(`{"version": 2, "leases": []}`), 0o644)
	if _, err := ReadLeases(future); err == nil {
		t.Error("version 2 was accepted")
	}
	// A lease outside the subnet (host.toml changed) is dropped.
	p := newPool(netip.MustParsePrefix("10.77.0.1/24"), []Lease{{MAC: "02:00:00:00:00:01", Addr: netip.MustParseAddr("10.78.0.5")}})
	if len(p.leases) != 0 {
		t.Errorf("kept %v", p.all())
	}
}
