package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Listener admits API connections by the uid of the peer (SO_PEERCRED):
// at most Limits.PerUID at once for each uid but root, at most
// Limits.Total in all, of which Limits.RootReserve only root may use. A
// connection over a cap gets a 503 and is closed at once, so refusing
// costs the daemon one fd for a moment; the refusal is logged once per
// uid per Limits.LogEvery. Without the caps, any member of the socket's
// group (the VM user among them) could take every fd of the daemon and
// with them its ability to restart VMs (security issue 8).
type Listener struct {
	net.Listener
	adm     admission
	refused *rateLog
	errs    *rateLog

	closeOnce sync.Once
	closed    chan struct{}
}

// LimitListener wraps ln, a unix socket listener, with the caps of lim.
func LimitListener(ln net.Listener, lim Limits, log *slog.Logger) *Listener {
	return &Listener{
		Listener: ln,
		adm:      admission{lim: lim, byUID: map[uint32]int{}},
		refused:  newRateLog(log, lim.LogEvery),
		errs:     newRateLog(log, lim.LogEvery),
		closed:   make(chan struct{}),
	}
}

// Accept returns the next admitted connection, a *PeerConn. It returns an
// error only when the listener is closed or broken: running out of fds or
// memory is waited out with a backoff (logged once per Limits.LogEvery),
// since the kernel keeps the connection queued and an immediate retry
// would spin.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !isResourceError(err) {
				return nil, err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.errs.warn(noUID-1, "accepting API connections", "err", err, "retryIn", delay)
			select {
			case <-time.After(delay):
				continue
			case <-l.closed:
				return nil, net.ErrClosed
			}
		}
		delay = 0
		p, err := peerOf(c)
		if err != nil {
			c.Close()
			l.errs.warn(noUID, "refusing an API connection without peer credentials", "err", err)
			continue
		}
		if why := l.adm.take(p.UID); why != "" {
			l.refuse(c, p, why)
			continue
		}
		return &PeerConn{Conn: c, Peer: p, release: func() { l.adm.put(p.UID) }}, nil
	}
}

// Close stops Accept, also one waiting out a backoff.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Open is the number of admitted connections of uid still open.
func (l *Listener) Open(uid uint32) int {
	l.adm.mu.Lock()
	defer l.adm.mu.Unlock()
	return l.adm.byUID[uid]
}

// noUID keys the rate of logs that have no uid to their name.
const noUID = ^uint32(0)

// refuseWrite bounds writing the 503: the peer's receive queue of a new
// connection is empty, so the write does not block unless something is
// badly wrong, and the accept loop must never wait on a peer.
const refuseWrite = 100 * time.Millisecond

// refuse answers c with a 503 and closes it.
func (l *Listener) refuse(c net.Conn, p Peer, why string) {
	body := fmt.Sprintf("{\"error\":%q}\n", "the daemon is at its connection limit: "+why+"; try again later")
	c.SetWriteDeadline(time.Now().Add(refuseWrite))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	c.Close()
	l.refused.warn(p.UID, "refusing API connections over the limit", "uid", p.UID, "why", why)
}

// isResourceError reports whether accept failed for want of fds or
// memory: worth waiting for, not a broken listener.
func isResourceError(err error) bool {
	for _, e := range []syscall.Errno{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// PeerConn is an admitted connection and who is at its other end.
type PeerConn struct {
	net.Conn
	Peer    Peer
	once    sync.Once
	release func()
}

// Close gives the connection's slot back, once.
func (c *PeerConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// admission counts open connections by uid against the caps.
type admission struct {
	lim   Limits
	mu    sync.Mutex
	total int
	byUID map[uint32]int
}

// take admits a connection of uid, or says why not. Root is bounded by
// Total only; every other uid by PerUID, and all of them together by
// Total-RootReserve, so no number of other users can take root's last
// slots.
func (a *admission) take(uid uint32) (why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.total >= a.lim.Total {
		return fmt.Sprintf("%d API connections open, at most %d", a.total, a.lim.Total)
	}
	if uid != 0 {
		if n := a.byUID[uid]; n >= a.lim.PerUID {
			return fmt.Sprintf("%d API connections open for uid %d, at most %d", n, uid, a.lim.PerUID)
		}
		if others, most := a.total-a.byUID[0], a.lim.Total-a.lim.RootReserve; others >= most {
			return fmt.Sprintf("%d API connections open by users other than root, at most %d (%d are kept for root)", others, most, a.lim.RootReserve)
		}
	}
	a.total++
	a.byUID[uid]++
	return ""
}

func (a *admission) put(uid uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total--
	if a.byUID[uid]--; a.byUID[uid] <= 0 {
		delete(a.byUID, uid)
	}
}
