// Package hostnet creates and deletes the tap and macvtap interfaces a VM's
// runner package declares (share/microvm/tap-interfaces, tap-flags,
// macvtap-interfaces), through netlink and without running `ip`.
//
// Every step is check, act, verify, so a host that crashed half-way re-runs
// setup safely: a stale interface of ours is replaced, one of another kind is
// refused and left alone, and teardown of something already gone succeeds.
package hostnet

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrForeign reports that an interface name is taken by a link of another
// kind (a veth where a tap was declared, say). hostnet never deletes such a
// link: it is somebody else's.
var ErrForeign = errors.New("interface of another kind")

// foreignError is the ErrForeign with the details an operator needs.
type foreignError struct{ name, kind, want string }

func (e *foreignError) Error() string {
	return fmt.Sprintf("interface %q exists and is a %s, not a %s; refusing to delete it", e.name, e.kind, e.want)
}

func (e *foreignError) Is(target error) bool { return target == ErrForeign }

// dumpRetries bounds the retries of a netlink call that came back with
// netlink.ErrDumpInterrupted (the link table changed during a dump).
const dumpRetries = 5

// Host does the netlink work in one network namespace. Its methods may run
// concurrently for different VMs; callers serialise work on one VM.
type Host struct {
	h      *netlink.Handle
	ns     netns.NsHandle // closed (-1) = the calling thread's netns
	devDir string
	log    *slog.Logger
}

// New returns a Host for the network namespace of the calling process.
// devDir is where macvtap character devices appear ("" means "/dev").
func New(devDir string, log *slog.Logger) (*Host, error) {
	return NewAt(netns.None(), devDir, log)
}

// NewAt returns a Host working in ns (netns.None() for the current one). The
// caller keeps ns open until Close. A netlink handle alone is not enough:
// a tap is created in the netns of the thread that opens /dev/net/tun, and
// /proc/sys/net shows the thread's netns, so both run on a thread moved
// into ns.
func NewAt(ns netns.NsHandle, devDir string, log *slog.Logger) (*Host, error) {
	h, err := openHandle(ns)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if devDir == "" {
		devDir = "/dev"
	}
	return &Host{h: h, ns: ns, devDir: devDir, log: log}, nil
}

// openHandle opens a netlink socket in ns (or the current netns).
func openHandle(ns netns.NsHandle) (*netlink.Handle, error) {
	var (
		h   *netlink.Handle
		err error
	)
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("opening netlink socket: %w", err)
	}
	return h, nil
}

// Close releases the netlink socket; the netns stays the caller's.
func (h *Host) Close() { h.h.Close() }

// inNetNS runs f on an OS thread that is in h's netns. A fresh goroutine
// keeps the caller's own thread (possibly locked elsewhere) untouched.
func (h *Host) inNetNS(f func() error) error {
	if !h.ns.IsOpen() {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("getting current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(h.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering netns: %w", err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			// Stay locked: the runtime then retires this thread when the
			// goroutine ends, so no other goroutine runs in the wrong netns.
			errc <- errors.Join(ferr, fmt.Errorf("restoring netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// linkByName returns the link called name, or nil (and no error) when
// there is none. LinkByName falls back to a full dump on old kernels, which
// can be interrupted by concurrent changes; those are retried.
func (h *Host) linkByName(name string) (netlink.Link, error) {
	return lookup(h.h, name)
}

// lookup is linkByName over the netlink socket nh.
func lookup(nh *netlink.Handle, name string) (netlink.Link, error) {
	var (
		l   netlink.Link
		err error
	)
	for range dumpRetries {
		l, err = nh.LinkByName(name)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("looking up interface %q: %w", name, err)
	case l.Attrs().Name != name:
		// The kernel also matches alternative names; that link is not ours.
		return nil, fmt.Errorf("%q is an alternative name of interface %q: %w", name, l.Attrs().Name, ErrForeign)
	}
	return l, nil
}

// kind names a link's type for messages ("veth", "bridge", "tun").
func kind(l netlink.Link) string {
	if t, ok := l.(*netlink.Tuntap); ok && t.Mode == netlink.TUNTAP_MODE_TUN {
		return "tun"
	}
	if t, ok := l.(*netlink.Tuntap); ok && t.Mode == netlink.TUNTAP_MODE_TAP {
		return "tap"
	}
	return l.Type()
}

// checkName rejects what the kernel would reject less clearly (IFNAMSIZ)
// or what would escape /proc/sys paths.
func checkName(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return fmt.Errorf("invalid interface name %q: want 1 to 15 bytes", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("invalid interface name %q: contains %q", name, r)
		}
	}
	return nil
}

// checkID turns an owner or group into what the kernel takes.
func checkID(what string, id int) (uint32, error) {
	if id < 0 || id > 1<<32-2 {
		return 0, fmt.Errorf("invalid %s %d", what, id)
	}
	return uint32(id), nil
}
