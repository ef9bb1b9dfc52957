package api

import (
	"fmt"
	"syscall"
	"time"
)

// Limits bound what API clients can hold of the daemon: every member of
// the socket's group can connect, the VM user among them, so nothing a
// client does may cost the daemon unbounded fds, memory or goroutines.
type Limits struct {
	// ReadHeaderTimeout closes a connection whose request line and
	// headers did not arrive in time (half-sent requests); it also
	// bounds reading a request body.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a kept-alive connection without a next request.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one reply, so a client that never
	// reads cannot hold a handler. It starts when the reply is ready, not
	// with the request: a stop may take minutes.
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body; the API takes none today.
	MaxBodyBytes int64
	// Total connections open at once; RootReserve of them only root may
	// use; PerUID is the cap of each other uid.
	Total, RootReserve, PerUID int
	// LogEvery: a refusal (over a cap, or a forbidden request) is logged
	// once per uid per LogEvery.
	LogEvery time.Duration
}

// DefaultLimits are the limits of a daemon with fds to spare; LimitsFor
// lowers the connection caps where RLIMIT_NOFILE is small.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 5 * time.Second,
	IdleTimeout:       30 * time.Second,
	WriteTimeout:      10 * time.Second,
	MaxHeaderBytes:    8 << 10,
	MaxBodyBytes:      4 << 10,
	Total:             maxConns,
	RootReserve:       maxConns / 8,
	PerUID:            maxConns / 8,
	LogEvery:          time.Minute,
}

// The fd budget. The API may hold at most Total*connFDs fds at once:
// each admitted connection is one fd, and while its request is handled
// the daemon may open up to three more for it (a start opens the
// monitor's log, /dev/null and exec's status pipe before the monitor
// holds a pidfd; a status opens one VM's records at a time). Refusing a
// connection over the caps holds one more fd for a moment. Everything
// else is the supervisor's own: its stdio, the listener, the netpoller,
// one pidfd per monitor it watches, and the fds of spawns it starts by
// itself (autostart, restarts after a crash, at most autostartParallel
// at a time, a handful each). fdReserve is the least the supervisor
// keeps: 1024 fds carry several hundred supervised VMs. So
//
//	Total = clamp((RLIMIT_NOFILE - fdReserve - 1) / connFDs, minConns, maxConns)
//
// which with the usual hard limits (20000, 524288, 1048576) is maxConns
// = 256 connections and 1024 fds for the API, everything else for the
// supervisor. Where the limit is too small for that (below 1089), the
// API keeps minConns anyway and LimitsFor says so.
const (
	connFDs   = 4
	fdReserve = 1024
	maxConns  = 256
	minConns  = 16
)

// LimitsFor is DefaultLimits with the connection caps sized for an fd
// limit of nofile (see the fd budget above). Root keeps an eighth of the
// connections; another uid may use an eighth (4 to 32).
func LimitsFor(nofile uint64) (Limits, error) {
	lim := DefaultLimits
	var err error
	total := maxConns
	// min: RLIM_INFINITY is 1<<64-1.
	if spare := int64(min(nofile, 1<<30)) - fdReserve - 1; spare < minConns*connFDs {
		total = minConns
		err = fmt.Errorf("RLIMIT_NOFILE %d is too small: the API takes up to %d fds and the supervisor wants %d of its own; raise LimitNOFILE or ulimit -Hn", nofile, minConns*connFDs, fdReserve)
	} else {
		total = int(min(spare/connFDs, maxConns))
	}
	lim.Total = total
	lim.RootReserve = max(total/8, 2)
	lim.PerUID = min(max(total/8, 4), total-lim.RootReserve)
	return lim, err
}

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard one and returns
// it (the soft one it could not raise, with an error). Go's runtime does so at start too (giving children the original
// soft limit back), so this normally finds it raised; it is here so that
// the fd budget never depends on that.
func RaiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return lim.Cur, fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
		lim = raised
	}
	return lim.Cur, nil
}
