package api

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// serve runs the API over d on a real socket in a new runtime directory.
func serve(t *testing.T, d Daemon, acc *Access, lim Limits) (dir string, ln *Listener) {
	t.Helper()
	dir = t.TempDir()
	inner, err := Listen(filepath.Join(dir, SocketName), -1)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := newTestLog()
	ln = LimitListener(inner, lim, log)
	srv := NewServer(Handler(d, acc, log), lim, log)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return dir, ln
}

func TestClientServer(t *testing.T) {
	d := &fakeDaemon{known: map[string]bool{"web": true}}
	acc := &Access{vmUser: "microvm", vmUID: 1 << 30, hasVMUser: true}
	dir, _ := serve(t, d, acc, testLimits())
	c := NewClient(dir)
	if !c.Available() {
		t.Fatal("not available")
	}
	st, err := c.Statuses(context.Background())
	if err != nil || len(st) != 1 || st[0].Name != "web" {
		t.Fatalf("Statuses: %v, %v", st, err)
	}
	err = c.Do(context.Background(), "stop", "web", time.Minute)
	if os.Geteuid() == 0 {
		if err != nil {
			t.Fatalf("root's stop: %v", err)
		}
		err = c.Do(context.Background(), "start", "nosuch", time.Minute)
		if !errors.Is(err, ErrUnknownVM) || err.Error() != `"nosuch": no such VM` {
			t.Fatalf("start nosuch: %v", err)
		}
		err = c.Do(context.Background(), "start", "Bad!", time.Minute)
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), `invalid VM name "Bad!"`) {
			t.Fatalf("start Bad!: %v", err)
		}
	} else if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "is for root only") {
		t.Fatalf("stop as uid %d: %v, want forbidden", os.Geteuid(), err)
	}
}

// TestClientStop: the stop's times reach the daemon through the body, and
// its outcome comes back whole.
func TestClientStop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root may stop through this API's default access")
	}
	code := 0
	want := supervisor.Outcome{How: supervisor.Rebooted, Requested: true, Graceful: true, After: 4100 * time.Millisecond, Code: &code, Reason: "guest-reset"}
	d := &fakeDaemon{known: map[string]bool{"web": true}, outcome: want}
	dir, _ := serve(t, d, &Access{}, testLimits())
	c := NewClient(dir)
	l := supervisor.Ladder{Timeout: 40 * time.Second, KillAfter: 3 * time.Second}
	got, err := c.Stop(context.Background(), "web", NewStopRequest(l), Bound("stop", l))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	if got.String() != "rebooted by the guest after 4.1 s" {
		t.Errorf("outcome in words: %q", got)
	}
	if calls := strings.Join(d.calls, ","); calls != "stop(40s 0s 3s) web" {
		t.Errorf("daemon calls %q; want the request's timeout and kill-after", calls)
	}
	if _, err := c.Stop(context.Background(), "nosuch", StopRequest{}, time.Minute); !errors.Is(err, ErrUnknownVM) {
		t.Errorf("stop nosuch: %v", err)
	}
}

func TestClientBusy(t *testing.T) {
	lim := testLimits()
	lim.Total, lim.RootReserve, lim.PerUID = 1, 0, 1
	dir, ln := serve(t, &fakeDaemon{}, &Access{}, lim)
	hold, err := net.Dial("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	eventually(t, "the held connection admitted", func() bool { return ln.Open(uint32(os.Geteuid())) == 1 })
	// The 503 races the client's request: either way it is ErrBusy.
	for range 20 {
		_, err = NewClient(dir).Statuses(context.Background())
		if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "connection limit") {
			t.Fatalf("Statuses over the limit: %v, want ErrBusy", err)
		}
	}
}

// TestClientBounds: a daemon that accepts and never answers costs the
// client its bound, and Ctrl-C ends the wait at once.
func TestClientBounds(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	c := NewClient(dir)
	c.statusTimeout = 200 * time.Millisecond
	_, err = c.Statuses(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer from the daemon within 200ms") {
		t.Fatalf("Statuses of a hung daemon: %v", err)
	}
	err = c.Do(context.Background(), "stop", "web", 300*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop of a hung daemon: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err = c.Do(ctx, "start", "web", time.Hour)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("interrupted start: %v", err)
	}
}

func TestBound(t *testing.T) {
	l := supervisor.Ladder{Timeout: 5 * time.Minute, Resend: time.Minute, KillAfter: 20 * time.Second}
	stop := Bound("stop", l)
	if stop <= 5*time.Minute+20*time.Second {
		t.Fatalf("stop bound %s leaves the daemon no time for SIGTERM and SIGKILL", stop)
	}
	if start := Bound("start", supervisor.Ladder{}); start <= supervisor.StartTimeout {
		t.Fatalf("start bound %s", start)
	}
	if r := Bound("restart", l); r < stop+Bound("start", supervisor.Ladder{}) {
		t.Fatalf("restart bound %s", r)
	}
}

// TestClientFullBacklog: a listener whose backlog is full makes connect
// fail with EAGAIN; the client retries until its dial timeout, and gets
// through once the daemon accepts.
func TestClientFullBacklog(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, SocketName)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil { // one pending connection at most
		t.Fatal(err)
	}
	first, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	c := NewClient(dir)
	c.dialTimeout = 300 * time.Millisecond
	if _, err := c.dial(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("dial to a full backlog: %v, want ErrBusy", err)
	}
	if !c.Available() {
		t.Fatal("a busy daemon is not available")
	}
	c.dialTimeout = time.Minute
	time.AfterFunc(100*time.Millisecond, func() {
		if nfd, _, err := unix.Accept(fd); err == nil {
			unix.Close(nfd)
		}
	})
	conn, err := c.dial(context.Background())
	if err != nil {
		t.Fatalf("dial once the backlog drained: %v", err)
	}
	conn.Close()
}

func TestClientNoDaemon(t *testing.T) {
	dir := t.TempDir()
	c := NewClient(dir)
	if c.Available() {
		t.Fatal("available without a socket")
	}
	// A stale socket: nobody listens.
	ln, err := net.Listen("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if c.Available() {
		t.Fatal("available with a stale socket")
	}
	if _, err := c.Statuses(context.Background()); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("Statuses: %v, want ErrNoDaemon", err)
	}
}
