package ociinit

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// dhcpTimeout bounds the wait for a lease, per interface.
const dhcpTimeout = 15 * time.Second

// configureNetwork brings lo and every eth* interface up, adds the
// static addresses and asks DHCP for the others, as the demo guest does.
// DNS servers from DHCP go into root's /etc/resolv.conf.
func configureNetwork(o Options, root string, say func(string, ...any)) []error {
	var errs []error
	links, err := netlink.LinkList()
	if err != nil {
		return []error{fmt.Errorf("listing network interfaces: %w", err)}
	}
	for _, l := range links {
		name := l.Attrs().Name
		if name != "lo" && !strings.HasPrefix(name, "eth") {
			continue
		}
		if err := netlink.LinkSetUp(l); err != nil {
			errs = append(errs, fmt.Errorf("bringing up %s: %w", name, err))
		}
	}
	for _, a := range o.Addresses {
		l, err := netlink.LinkByName(a.Iface)
		if err == nil {
			err = netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: a.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(a.Prefix.Bits(), 32)}})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("adding address %s to %s: %w", a.Prefix, a.Iface, err))
			continue
		}
		say("address %s on %s", a.Prefix, a.Iface)
	}
	var dns []net.IP
	for _, iface := range o.DHCP {
		servers, err := dhcp(iface, say)
		if err != nil {
			errs = append(errs, err)
		}
		dns = append(dns, servers...)
	}
	if len(dns) > 0 {
		if err := writeResolvConf(root, dns); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// dhcp gets a lease for iface and configures its address and default
// route; it returns the DNS servers offered.
func dhcp(iface string, say func(string, ...any)) ([]net.IP, error) {
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("dhcp on %s: %w", iface, err)
	}
	c, err := nclient4.New(iface, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
	if err != nil {
		return nil, fmt.Errorf("dhcp on %s: %w", iface, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), dhcpTimeout)
	defer cancel()
	lease, err := c.Request(ctx)
	if err != nil {
		return nil, fmt.Errorf("no DHCP lease on %s: %w", iface, err)
	}
	ack := lease.ACK
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	ipnet := &net.IPNet{IP: ack.YourIPAddr, Mask: mask}
	if err := netlink.AddrReplace(l, &netlink.Addr{IPNet: ipnet}); err != nil {
		return nil, fmt.Errorf("dhcp on %s: adding %s: %w", iface, ipnet, err)
	}
	ones, _ := mask.Size()
	say("address %s/%d on %s", ack.YourIPAddr, ones, iface)
	if routers := dhcpv4.GetIPs(dhcpv4.OptionRouter, ack.Options); len(routers) > 0 {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: routers[0]}
		if err := netlink.RouteReplace(r); err != nil {
			return nil, fmt.Errorf("dhcp on %s: default route via %s: %w", iface, routers[0], err)
		}
	}
	return ack.DNS(), nil
}

// writeResolvConf replaces root's /etc/resolv.conf, which the image may
// have as a link into a resolver it does not run here.
func writeResolvConf(root string, servers []net.IP) error {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	p := filepath.Join(root, "etc/resolv.conf")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing /etc/resolv.conf: %w", err)
	}
	os.Remove(p)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing /etc/resolv.conf: %w", err)
	}
	return nil
}
