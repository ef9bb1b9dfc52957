package hostnet

import (
	"errors"
	"log/slog"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// RequireRoot skips tb unless it runs as root: creating links needs
// CAP_NET_ADMIN, and /dev/tapN needs chown. CI runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (CAP_NET_ADMIN for netlink, chown for /dev/tapN); CI runs these as root")
	}
}

// NewNetNS returns a fresh network namespace that disappears, with every
// link in it, when the test ends. The caller's thread is never moved.
func NewNetNS(tb testing.TB) netns.NsHandle {
	tb.Helper()
	RequireRoot(tb)
	type result struct {
		ns  netns.NsHandle
		err error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			c <- result{err: err}
			return
		}
		defer orig.Close()
		ns, err := netns.New() // unshares this thread into the new netns
		if err != nil {
			runtime.UnlockOSThread()
			c <- result{err: err}
			return
		}
		if err := netns.Set(orig); err != nil {
			// Stay locked so the runtime retires the thread.
			ns.Close()
			c <- result{err: err}
			return
		}
		runtime.UnlockOSThread()
		c <- result{ns: ns}
	}()
	r := <-c
	if r.err != nil {
		tb.Fatalf("creating netns: %v", r.err)
	}
	tb.Cleanup(func() { r.ns.Close() })
	return r.ns
}

// env is a Host in a fresh netns plus a handle to inspect that netns.
type env struct {
	ns   netns.NsHandle
	nl   *netlink.Handle
	host *Host
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	ns := NewNetNS(tb)
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		tb.Fatalf("netlink handle: %v", err)
	}
	tb.Cleanup(nl.Close)
	log := slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, ok := tb.(*testing.B); ok {
		log = slog.New(slog.DiscardHandler)
	}
	// /dev: macvtap nodes appear in the global devtmpfs even for a netns.
	h, err := NewAt(ns, "/dev", log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	return &env{ns: ns, nl: nl, host: h}
}

// link returns the link called name, or nil.
func (e *env) link(tb testing.TB, name string) netlink.Link {
	tb.Helper()
	l, err := e.nl.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		tb.Fatalf("looking up %q: %v", name, err)
	}
	return l
}

// tap returns the tap called name, failing the test if it is not one.
func (e *env) tap(tb testing.TB, name string) *netlink.Tuntap {
	tb.Helper()
	l := e.link(tb, name)
	t, ok := l.(*netlink.Tuntap)
	if !ok {
		tb.Fatalf("%q: got %T, want a tap", name, l)
	}
	return t
}

// addTap creates a tap by hand, as an older runner or `ip tuntap` would.
// It stays down, as after a crash between creating and bringing it up.
func (e *env) addTap(tb testing.TB, name string, flags netlink.TuntapFlag, owner, group uint32) {
	tb.Helper()
	la := netlink.NewLinkAttrs()
	la.Name = name
	tt := &netlink.Tuntap{LinkAttrs: la, Mode: netlink.TUNTAP_MODE_TAP, Flags: flags, Owner: owner, Group: group}
	if err := e.host.inNetNS(func() error { return e.nl.LinkAdd(tt) }); err != nil {
		tb.Fatalf("adding tap %q: %v", name, err)
	}
}

func (e *env) addVeth(tb testing.TB, name, peer string) {
	tb.Helper()
	la := netlink.NewLinkAttrs()
	la.Name = name
	if err := e.nl.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: peer}); err != nil {
		tb.Fatalf("adding veth %q: %v", name, err)
	}
}

func (e *env) addBridge(tb testing.TB, name string) int {
	tb.Helper()
	la := netlink.NewLinkAttrs()
	la.Name = name
	br := &netlink.Bridge{LinkAttrs: la}
	if err := e.nl.LinkAdd(br); err != nil {
		tb.Fatalf("adding bridge %q: %v", name, err)
	}
	return e.link(tb, name).Attrs().Index
}
