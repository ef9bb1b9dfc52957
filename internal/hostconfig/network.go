package hostconfig

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/microvm-host/microvm/internal/runner"
)

// The defaults of [network.default], the network a spec interface gets
// with network = "default". 10.77.0.0/24 is no well-known default of
// another tool (libvirt 192.168.122.0/24, Docker 172.17.0.0/16, qemu's
// user networking 10.0.2.0/24, Podman 10.88.0.0/16, k3s 10.42.0.0/16);
// the network refuses to come up when the host already has an address
// in it.
const (
	DefaultNetwork        = "default"
	DefaultNetworkBridge  = "microvm0"
	DefaultNetworkAddress = "10.77.0.1/24"
)

// Network is a managed network, [network.NAME]: a bridge of microvm's own
// with the host's address on it, IPv4 NAT to wherever the host routes,
// and a DHCP server handing each guest MAC the same address every time.
// Nothing is created for a host.toml without [network.NAME] tables.
type Network struct {
	// Bridge is created by microvm and deleted with the network; an
	// existing interface of that name that microvm did not create is
	// refused. Default "microvm0" for "default", required otherwise.
	Bridge string `toml:"bridge"`
	// Address is the host's address on the bridge with the prefix length
	// of the guests' subnet: the guests' gateway and DHCP server.
	// Default "10.77.0.1/24" for "default", required otherwise.
	Address string `toml:"address"`
	// NAT masquerades the subnet's traffic to other networks (nftables)
	// and turns on IPv4 forwarding. Default true.
	NAT *bool `toml:"nat"`
	// DHCP serves the subnet's other addresses. Default true.
	DHCP *bool `toml:"dhcp"`
	// DNS are the name servers DHCP hands out. Unset: the host's own from
	// /etc/resolv.conf, without loopback ones (a local resolver such as
	// systemd-resolved's 127.0.0.53 is not reachable from guests).
	DNS *[]string `toml:"dns"`
}

// NATEnabled reports whether the network masquerades (the default).
func (n Network) NATEnabled() bool { return n.NAT == nil || *n.NAT }

// DHCPEnabled reports whether the network serves DHCP (the default).
func (n Network) DHCPEnabled() bool { return n.DHCP == nil || *n.DHCP }

// Prefix is the host's address on the bridge with its prefix length;
// Load has checked that it parses.
func (n Network) Prefix() netip.Prefix {
	p, _ := netip.ParsePrefix(n.Address)
	return p
}

// NetworkNames returns the configured networks' names, sorted.
func (c *Config) NetworkNames() []string {
	names := make([]string, 0, len(c.Network))
	for name := range c.Network {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// networkDefaults fills what [network.default] leaves out.
func (c *Config) networkDefaults() {
	n, ok := c.Network[DefaultNetwork]
	if !ok {
		return
	}
	if n.Bridge == "" {
		n.Bridge = DefaultNetworkBridge
	}
	if n.Address == "" {
		n.Address = DefaultNetworkAddress
	}
	c.Network[DefaultNetwork] = n
}

// validateNetworks reports the problems of the [network.NAME] tables:
// names, bridges, addresses that are no host address of an IPv4
// subnet, subnets or bridges that two networks share.
func (c *Config) validateNetworks(p *problems) {
	bridges := map[string]string{}
	var subnets []struct {
		name string
		p    netip.Prefix
	}
	for _, name := range c.NetworkNames() {
		n, key := c.Network[name], "network."+name
		if err := runner.CheckNetworkName(name); err != nil {
			p.addAt("network", key, "%w", err)
			continue
		}
		// [network.default] may leave both out: check its defaults too,
		// as another network may clash with them.
		bridge, address := n.Bridge, n.Address
		if name == DefaultNetwork && !c.written(key+".bridge") {
			bridge = DefaultNetworkBridge
		}
		if name == DefaultNetwork && !c.written(key+".address") {
			address = DefaultNetworkAddress
		}
		if address == "" {
			p.addAt(key+".address", key, `required; expected the host's address on the bridge with the subnet's prefix length, like "10.78.0.1/24"`)
		} else if pfx, err := checkNetworkAddress(address); err != nil {
			p.add(key+".address", "%w", err)
		} else {
			for _, s := range subnets {
				if s.p.Overlaps(pfx) {
					p.add(key+".address", "%s overlaps %s of network %q; expected a subnet of its own", pfx.Masked(), s.p.Masked(), s.name)
					break
				}
			}
			subnets = append(subnets, struct {
				name string
				p    netip.Prefix
			}{name, pfx})
		}
		if bridge == "" {
			p.addAt(key+".bridge", key, `required; expected the name of a bridge for microvm to create, like "microvm1"`)
		} else if err := runner.CheckInterfaceName(bridge); err != nil {
			p.check(key+".bridge", err)
		} else if other, dup := bridges[bridge]; dup {
			p.add(key+".bridge", "%q is also the bridge of network %q; expected a bridge of its own", bridge, other)
		} else {
			bridges[bridge] = name
		}
		if n.DNS != nil {
			for i, s := range *n.DNS {
				if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
					p.add(fmt.Sprintf("%s.dns[%d]", key, i), "%q: expected an IPv4 address like \"192.0.2.53\"", s)
				}
			}
		}
	}
}

// checkNetworkAddress parses a network's address: an IPv4 host address
// with a prefix length that leaves room for guests. At most a /16: every
// guest MAC is remembered in the lease file, and a guest that makes up
// MACs must not be able to grow it past a few MiB.
func checkNetworkAddress(s string) (netip.Prefix, error) {
	const want = `expected the host's IPv4 address with a prefix length of 16 to 30, like "10.77.0.1/24"`
	pfx, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return pfx, fmt.Errorf("%q: %s", s, want)
	case !pfx.Addr().Is4():
		return pfx, fmt.Errorf("%q is not IPv4; %s", s, want)
	case pfx.Bits() < 16 || pfx.Bits() > 30:
		return pfx, fmt.Errorf("%q: prefix length %d; %s", s, pfx.Bits(), want)
	}
	last := lastAddr(pfx)
	switch a := pfx.Addr(); {
	case a == pfx.Masked().Addr():
		return pfx, fmt.Errorf("%q is the subnet's network address; %s", s, want)
	case a == last:
		return pfx, fmt.Errorf("%q is the subnet's broadcast address; %s", s, want)
	case !a.IsPrivate():
		return pfx, fmt.Errorf("%q is not a private address (RFC 1918); expected one, as guests behind NAT use, like \"10.77.0.1/24\"", s)
	}
	return pfx, nil
}

// lastAddr is the broadcast address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
