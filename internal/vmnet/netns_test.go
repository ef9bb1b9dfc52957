package vmnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/hostnet"
)

// namedNS creates a network namespace with `ip netns add` (so that
// `ip netns exec` can run busybox in it) and deletes it when the test
// ends. Nothing outside the namespaces is touched.
func namedNS(t *testing.T) (string, netns.NsHandle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, bridges, nftables); CI runs these as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 for named network namespaces")
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "mvt-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return name, h
}

// in runs a command in the named netns and returns its output.
func in(t *testing.T, ns string, argv ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// world is a host netns with a fake uplink: a veth whose peer, in another
// netns, is "the internet" at 192.0.2.2 with no route back to the guests'
// subnet, so only NAT lets a guest's packets come back.
type world struct {
	host, inet string
	hostNS     netns.NsHandle
	m          *Manager
}

func newWorld(t *testing.T, networks map[string]hostconfig.Network) *world {
	t.Helper()
	host, hostNS := namedNS(t)
	inet, _ := namedNS(t)
	in(t, host, "ip", "link", "add", "uplink", "type", "veth", "peer", "name", "uplink-peer", "netns", inet)
	in(t, host, "ip", "addr", "add", "192.0.2.1/24", "dev", "uplink")
	in(t, host, "ip", "link", "set", "uplink", "up")
	in(t, inet, "ip", "addr", "add", "192.0.2.2/24", "dev", "uplink-peer")
	in(t, inet, "ip", "link", "set", "uplink-peer", "up")
	in(t, host, "ip", "link", "set", "lo", "up")
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	nh, err := hostnet.NewAt(hostNS, "/dev", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nh.Close)
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	os.WriteFile(resolv, []byte("nameserver 127.0.0.53\nnameserver 192.0.2.53\n"), 0o644)
	return &world{host: host, inet: inet, hostNS: hostNS, m: &Manager{
		Net: nh, Networks: networks, Leases: filepath.Join(dir, "leases"), Runtime: filepath.Join(dir, "run"),
		ResolvConf: resolv, Log: log,
	}}
}

// guest makes a client netns wired to the bridge by a veth (as a tap
// would be), with the guest's MAC; it returns the netns's name.
func (w *world) guest(t *testing.T, bridge, mac string) string {
	t.Helper()
	g, _ := namedNS(t)
	port := "p" + g[4:] // unique per guest, at most 15 bytes
	in(t, w.host, "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", g)
	in(t, w.host, "ip", "link", "set", port, "master", bridge, "up")
	in(t, g, "ip", "link", "set", "eth0", "address", mac, "up")
	in(t, g, "ip", "link", "set", "lo", "up")
	return g
}

// udhcpc runs busybox's DHCP client once in the guest netns and returns
// the address it configured.
func udhcpc(t *testing.T, g string) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox (scripts/install-deps.sh: busybox-static) for udhcpc")
	}
	script := filepath.Join(t.TempDir(), "udhcpc.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
case "$1" in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface"
	ip route replace default via "$router" dev "$interface"
	echo "ip=$ip router=$router dns=$dns"
	;;
esac
`), 0o755)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", g, bb, "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "10", "-T", "1", "-s", script).CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "ip="); ok {
			t.Logf("udhcpc: %s", l)
			if !strings.Contains(l, "router=10.77.0.1 dns=192.0.2.53") {
				t.Errorf("lease %q: want router 10.77.0.1 and the host's non-loopback DNS 192.0.2.53", l)
			}
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("udhcpc configured nothing:\n%s", out)
	return ""
}
