package vmnet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/microvm-host/microvm/internal/dhcp"
)

// serveRetry is how often a waiting server checks whether the network's
// DHCP is free to take over.
const serveRetry = 500 * time.Millisecond

// Serve serves DHCP on the networks names that have it, until ctx is
// done. Only one process serves a network at a time (a lock in the
// runtime directory): the daemon, `microvm host network serve`, or a
// foreground `microvm run` whose VM uses the network. The others wait
// and take over when it stops; the lease file makes them answer alike.
// The networks must be up.
func (m *Manager) Serve(ctx context.Context, names []string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		n, err := m.network(name)
		if err != nil {
			errs[i] = err
			continue
		}
		if !n.DHCPEnabled() {
			continue
		}
		wg.Go(func() { errs[i] = m.serve(ctx, name) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serve waits for network name's DHCP lock, then serves until ctx is done.
func (m *Manager) serve(ctx context.Context, name string) error {
	n := m.Networks[name]
	dir := filepath.Join(m.Runtime, runDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("network %q: runtime directory: %w", name, err)
	}
	l := flock.New(filepath.Join(dir, name+serveLockSuffix))
	ok, err := l.TryLockContext(ctx, serveRetry)
	if !ok {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("network %q: locking DHCP: %w", name, err)
	}
	defer l.Unlock()
	dns, err := m.dns(n.DNS)
	if err != nil {
		m.log().Warn("no DNS servers for DHCP", "network", name, "err", err)
	}
	conn, err := m.Net.ListenDHCP(n.Bridge)
	if err != nil {
		return fmt.Errorf("network %q: %w", name, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	srv := &dhcp.Server{Addr: n.Prefix(), DNS: dns, Leases: LeaseFile(m.Leases, name), Log: m.log().With("network", name)}
	m.log().Info("serving DHCP", "network", name, "bridge", n.Bridge, "address", n.Prefix(), "dns", dns)
	if err := srv.Serve(conn); err != nil {
		return fmt.Errorf("network %q: DHCP: %w", name, err)
	}
	return nil
}

// dns is the DNS servers a network hands out: its own list, or the
// host's IPv4 name servers from resolv.conf that a guest can reach (not
// loopback: systemd-resolved's 127.0.0.53 is the host's alone).
func (m *Manager) dns(set *[]string) ([]netip.Addr, error) {
	var out []netip.Addr
	if set != nil {
		for _, s := range *set {
			if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, a)
			}
		}
		return out, nil
	}
	f, err := os.Open(m.ResolvConf)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(fields[1]); err == nil && a.Is4() && !a.IsLoopback() {
			out = append(out, a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no IPv4 name server a guest can reach; set dns in host.toml", m.ResolvConf)
	}
	return out, nil
}
