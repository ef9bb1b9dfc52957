package dhcp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// Defaults of a Server.
const (
	DefaultLeaseTime = time.Hour
	// offerHold is how long an offered address stays a new MAC's without
	// a request: long enough for a slow guest to ask for it.
	offerHold = time.Minute
)

// Server answers DHCPv4 on one bridge.
type Server struct {
	// Addr is the server's own address with the subnet's prefix length:
	// the guests' gateway and the server identifier.
	Addr      netip.Prefix
	DNS       []netip.Addr
	LeaseTime time.Duration // DefaultLeaseTime when zero
	// Leases is the lease file, in a directory only root can write.
	Leases string
	Log    *slog.Logger
	Now    func() time.Time // time.Now when nil; tests set it

	mu   sync.Mutex
	pool *pool
}

// Serve answers requests arriving on conn, a UDP socket bound to port 67
// on the bridge (hostnet.Host.ListenDHCP), until conn is closed; then it
// returns nil.
func (s *Server) Serve(conn net.PacketConn) error {
	if err := s.load(); err != nil {
		conn.Close()
		return err
	}
	srv, err := server4.NewServer("", nil, func(c net.PacketConn, _ net.Addr, m *dhcpv4.DHCPv4) {
		resp, to := s.Reply(m)
		if resp == nil {
			return
		}
		if _, err := c.WriteTo(resp.ToBytes(), to); err != nil {
			s.log().Warn("sending DHCP reply", "to", to, "type", resp.MessageType(), "err", err)
		}
	}, server4.WithConn(conn))
	if err != nil {
		return err
	}
	err = srv.Serve()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// load reads the lease file once, before the first request.
func (s *Server) load() error {
	if !s.Addr.Addr().Is4() {
		return fmt.Errorf("dhcp: server address %s is not IPv4", s.Addr)
	}
	leases, err := ReadLeases(s.Leases)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.pool = newPool(s.Addr, leases)
	s.mu.Unlock()
	return nil
}

// Reply is the answer to req and where to send it; nil when there is
// none to send (a message for another server, a relayed one, a client
// that is not Ethernet).
func (s *Server) Reply(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	if req.OpCode != dhcpv4.OpcodeBootRequest || len(req.ClientHWAddr) != 6 || !req.GatewayIPAddr.IsUnspecified() && req.GatewayIPAddr != nil {
		return nil, nil
	}
	mac := req.ClientHWAddr.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		s.pool = newPool(s.Addr, nil)
	}
	now := s.now()
	log := s.log().With("mac", mac, "xid", req.TransactionID.String())
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		l, err := s.lease(mac, now, now.Add(offerHold), req.HostName(), false)
		if err != nil {
			log.Warn("no DHCP offer", "err", err)
			return nil, nil
		}
		log.Debug("DHCP offer", "addr", l.Addr)
		return s.answer(req, dhcpv4.MessageTypeOffer, l.Addr)
	case dhcpv4.MessageTypeRequest:
		if id := req.ServerIdentifier(); id != nil && !id.Equal(s.Addr.Addr().AsSlice()) {
			return nil, nil // the client chose another server's offer
		}
		want := req.RequestedIPAddress()
		if want == nil || want.IsUnspecified() {
			want = req.ClientIPAddr
		}
		l, err := s.lease(mac, now, now.Add(s.leaseTime()), req.HostName(), true)
		if err != nil {
			log.Warn("DHCP request refused", "err", err)
			return s.answer(req, dhcpv4.MessageTypeNak, netip.Addr{})
		}
		if a, ok := netip.AddrFromSlice(want); !ok || a.Unmap() != l.Addr {
			log.Info("DHCP request for another address refused", "requested", want, "addr", l.Addr)
			return s.answer(req, dhcpv4.MessageTypeNak, netip.Addr{})
		}
		log.Info("DHCP lease", "addr", l.Addr, "hostname", l.Hostname)
		return s.answer(req, dhcpv4.MessageTypeAck, l.Addr)
	case dhcpv4.MessageTypeRelease:
		if l := s.pool.leases[mac]; l != nil && l.Expires.After(now) {
			l.Expires = now // the address stays the MAC's
			s.save(log)
			log.Info("DHCP release", "addr", l.Addr)
		}
	case dhcpv4.MessageTypeDecline:
		log.Warn("DHCP address declined: another host on the bridge uses it", "addr", req.RequestedIPAddress())
	case dhcpv4.MessageTypeInform:
		return s.answer(req, dhcpv4.MessageTypeAck, netip.Addr{})
	}
	return nil, nil
}

// lease finds or makes the lease of mac, extends it to until, and, with
// persist (a request, not an offer), saves the lease file when that
// changed anything: a flood of DISCOVERs from made-up MACs writes nothing.
// An offer not written is still held in memory for offerHold.
func (s *Server) lease(mac string, now, until time.Time, hostname string, persist bool) (*Lease, error) {
	l, changed, err := s.pool.addrFor(mac, now, until)
	if err != nil {
		return nil, err
	}
	if until.After(l.Expires) {
		l.Expires, changed = until, true
	}
	if hostname != "" && hostname != l.Hostname {
		l.Hostname, changed = hostname, true
	}
	if changed && persist {
		s.save(s.log())
	}
	return l, nil
}

// save writes the lease file. A failure is logged, not fatal: the guest
// still gets its address, and the next change tries again.
func (s *Server) save(log *slog.Logger) {
	if err := writeLeases(s.Leases, s.pool.all()); err != nil {
		log.Error("saving DHCP leases", "err", err)
	}
}

// answer builds a reply of type t offering addr (zero: none) and says
// where it goes: a NAK and a client without an address are broadcast on
// the bridge (without an ARP entry the guest cannot get unicast), a
// client with one gets unicast.
func (s *Server) answer(req *dhcpv4.DHCPv4, t dhcpv4.MessageType, addr netip.Addr) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	server := net.IP(s.Addr.Addr().AsSlice())
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(t),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)),
	}
	if t != dhcpv4.MessageTypeNak {
		dns := make([]net.IP, len(s.DNS))
		for i, d := range s.DNS {
			dns[i] = d.AsSlice()
		}
		mods = append(mods,
			dhcpv4.WithNetmask(net.CIDRMask(s.Addr.Bits(), 32)),
			dhcpv4.WithRouter(server),
		)
		if len(dns) > 0 {
			mods = append(mods, dhcpv4.WithDNS(dns...))
		}
	}
	if addr.IsValid() {
		mods = append(mods, dhcpv4.WithYourIP(addr.AsSlice()), dhcpv4.WithLeaseTime(uint32(s.leaseTime()/time.Second)))
	}
	resp, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		s.log().Warn("building DHCP reply", "err", err)
		return nil, nil
	}
	to := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
	if t != dhcpv4.MessageTypeNak && req.ClientIPAddr != nil && !req.ClientIPAddr.IsUnspecified() {
		to.IP = req.ClientIPAddr
	}
	return resp, to
}

func (s *Server) leaseTime() time.Duration {
	if s.LeaseTime > 0 {
		return s.LeaseTime
	}
	return DefaultLeaseTime
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
