package kubetest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The test network (see the package comment).
const (
	bridgeAddr = "10.244.0.1"
	prefixLen  = "/24"
)

func hostAddr(i int) string { return fmt.Sprintf("10.244.0.1%d", i) }

// ipCmd runs ip with args, failing the test on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// network makes the control namespace with its bridge, and a namespace
// per host on it; all removed at the end of the test.
type network struct {
	ctl   string   // the control namespace's name
	hosts []string // the hosts' namespaces' names
	ctlNS netns.NsHandle
}

func newNetwork(t *testing.T, hosts int) *network {
	prefix := fmt.Sprintf("mkt%d", time.Now().UnixNano()%100000)
	n := &network{ctl: prefix + "-ctl"}
	add := func(name string) {
		ipCmd(t, "netns", "add", name)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ipCmd(t, "-n", name, "link", "set", "lo", "up")
	}
	add(n.ctl)
	ipCmd(t, "-n", n.ctl, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", n.ctl, "addr", "add", bridgeAddr+prefixLen, "dev", "br0")
	ipCmd(t, "-n", n.ctl, "link", "set", "br0", "up")
	for i := 1; i <= hosts; i++ {
		h := fmt.Sprintf("%s-h%d", prefix, i)
		add(h)
		veth := fmt.Sprintf("veth%d", i)
		ipCmd(t, "-n", n.ctl, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h)
		ipCmd(t, "-n", n.ctl, "link", "set", veth, "master", "br0", "up")
		ipCmd(t, "-n", h, "addr", "add", hostAddr(i)+prefixLen, "dev", "eth0")
		ipCmd(t, "-n", h, "link", "set", "eth0", "up")
		n.hosts = append(n.hosts, h)
	}
	ns, err := netns.GetFromName(n.ctl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	n.ctlNS = ns
	return n
}

// inNS runs f on an OS thread in ns. The thread is never returned to
// the Go scheduler: it ends with f's goroutine, still locked, so no other
// goroutine ever runs in ns by accident. Sockets f makes stay in ns.
func inNS[T any](ns netns.NsHandle, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		if r.err = netns.Set(ns); r.err == nil {
			r.v, r.err = f()
		}
		ch <- r
	}()
	r := <-ch
	return r.v, r.err
}

// dialer dials from the control namespace: the test's own clients.
func (n *network) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return inNS(n.ctlNS, func() (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
}

// listen listens in the control namespace.
func (n *network) listen(addr string) (net.Listener, error) {
	return inNS(n.ctlNS, func() (net.Listener, error) { return net.Listen("tcp", addr) })
}
