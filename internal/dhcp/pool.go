package dhcp

import (
	"errors"
	"hash/fnv"
	"net/netip"
	"time"
)

// ErrPoolExhausted reports that every address of the subnet is leased to
// another MAC and none of those leases has expired.
var ErrPoolExhausted = errors.New("no free address: every address of the subnet is leased")

// pool hands out the host addresses of a subnet, but the server's own.
type pool struct {
	server netip.Prefix // the server's address with the subnet's length
	leases map[string]*Lease
	byAddr map[netip.Addr]*Lease
}

func newPool(server netip.Prefix, leases []Lease) *pool {
	p := &pool{server: server, leases: map[string]*Lease{}, byAddr: map[netip.Addr]*Lease{}}
	for _, l := range leases {
		// An address the subnet no longer holds (host.toml changed) is
		// dropped: the MAC gets a new one.
		if !p.usable(l.Addr) || p.byAddr[l.Addr] != nil || p.leases[l.MAC] != nil {
			continue
		}
		l := l
		p.leases[l.MAC], p.byAddr[l.Addr] = &l, &l
	}
	return p
}

// size is the number of addresses a subnet has for guests.
func (p *pool) size() uint32 { return uint32(1)<<(32-p.server.Bits()) - 3 }

// usable reports whether a is a guest address of the subnet.
func (p *pool) usable(a netip.Addr) bool {
	if !a.Is4() || !p.server.Contains(a) || a == p.server.Addr() {
		return false
	}
	host := u32(a) &^ u32(p.server.Masked().Addr())
	return host != 0 && host != uint32(1)<<(32-p.server.Bits())-1
}

// nth is the nth guest address (0-based), skipping the server's.
func (p *pool) nth(n uint32) netip.Addr {
	a := from32(u32(p.server.Masked().Addr()) + 1 + n)
	if a.Compare(p.server.Addr()) >= 0 {
		a = a.Next()
	}
	return a
}

// addrFor returns the lease of mac, making one when it has none: the
// address its MAC hashes to when free, else the next free one, else the
// one whose lease expired longest ago. A new lease expires at hold, so an
// offer that is never requested does not hold the address for long.
func (p *pool) addrFor(mac string, now, hold time.Time) (l *Lease, created bool, err error) {
	if l := p.leases[mac]; l != nil {
		return l, false, nil
	}
	h := fnv.New32a()
	h.Write([]byte(mac))
	n, start := p.size(), h.Sum32()%p.size()
	var oldest *Lease
	for i := range n {
		a := p.nth((start + i) % n)
		cur := p.byAddr[a]
		if cur == nil {
			return p.add(Lease{MAC: mac, Addr: a, Expires: hold}), true, nil
		}
		if cur.Expires.Before(now) && (oldest == nil || cur.Expires.Before(oldest.Expires)) {
			oldest = cur
		}
	}
	if oldest == nil {
		return nil, false, ErrPoolExhausted
	}
	delete(p.leases, oldest.MAC)
	delete(p.byAddr, oldest.Addr)
	return p.add(Lease{MAC: mac, Addr: oldest.Addr, Expires: hold}), true, nil
}

func (p *pool) add(l Lease) *Lease {
	p.leases[l.MAC], p.byAddr[l.Addr] = &l, &l
	return &l
}

// all returns the leases, for writing.
func (p *pool) all() []Lease {
	out := make([]Lease, 0, len(p.leases))
	for _, l := range p.leases {
		out = append(out, *l)
	}
	return out
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func from32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
