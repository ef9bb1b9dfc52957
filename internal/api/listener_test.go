package api

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestAdmission(t *testing.T) {
	a := admission{lim: Limits{Total: 10, RootReserve: 3, PerUID: 4}, byUID: map[uint32]int{}}
	take := func(uid uint32, n int, wantWhy string) {
		t.Helper()
		for i := 0; i < n; i++ {
			if why := a.take(uid); why != "" {
				t.Fatalf("uid %d, connection %d: refused: %s", uid, i+1, why)
			}
		}
		why := a.take(uid)
		if wantWhy == "" && why != "" || !strings.Contains(why, wantWhy) {
			t.Fatalf("uid %d after %d: got %q, want %q", uid, n, why, wantWhy)
		}
		if wantWhy == "" {
			a.put(uid)
		}
	}
	take(1000, 4, "4 API connections open for uid 1000, at most 4")
	// 1001 fills what others than root may use (10 - 3 = 7).
	take(1001, 3, "7 API connections open by users other than root, at most 7 (3 are kept for root)")
	take(1002, 0, "by users other than root")
	// Root gets the reserve, and then no more.
	take(0, 3, "10 API connections open, at most 10")
	a.put(1000)
	take(1002, 1, "10 API connections open, at most 10")
	if a.total != 10 || a.byUID[1000] != 3 || a.byUID[1002] != 1 {
		t.Fatalf("counts: total %d, by uid %v", a.total, a.byUID)
	}
	for _, uid := range []uint32{1000, 1000, 1000, 1001, 1001, 1001, 1002, 0, 0, 0} {
		a.put(uid)
	}
	if a.total != 0 || len(a.byUID) != 0 {
		t.Fatalf("after all closed: total %d, by uid %v", a.total, a.byUID)
	}
}

func TestLimitsFor(t *testing.T) {
	for _, tc := range []struct {
		nofile                 uint64
		total, reserve, perUID int
		tooSmall               bool
	}{
		{nofile: 1 << 20, total: 256, reserve: 32, perUID: 32},
		{nofile: 20000, total: 256, reserve: 32, perUID: 32},
		{nofile: 1<<64 - 1, total: 256, reserve: 32, perUID: 32}, // RLIM_INFINITY
		{nofile: 2048, total: 255, reserve: 31, perUID: 31},
		{nofile: 1536, total: 127, reserve: 15, perUID: 15},
		{nofile: 2049, total: 256, reserve: 32, perUID: 32},
		{nofile: 1089, total: 16, reserve: 2, perUID: 4},
		{nofile: 1088, total: 16, reserve: 2, perUID: 4, tooSmall: true},
		{nofile: 1024, total: 16, reserve: 2, perUID: 4, tooSmall: true},
		{nofile: 0, total: 16, reserve: 2, perUID: 4, tooSmall: true},
	} {
		lim, err := LimitsFor(tc.nofile)
		if (err != nil) != tc.tooSmall {
			t.Errorf("LimitsFor(%d): error %v, want one: %v", tc.nofile, err, tc.tooSmall)
		}
		if lim.Total != tc.total || lim.RootReserve != tc.reserve || lim.PerUID != tc.perUID {
			t.Errorf("LimitsFor(%d) = total %d, reserve %d, per uid %d; want %d, %d, %d", tc.nofile, lim.Total, lim.RootReserve, lim.PerUID, tc.total, tc.reserve, tc.perUID)
		}
	}
	// The budget: whenever the limit allows it, what the API may hold
	// leaves the supervisor its reserve, and no uid but root can take
	// root's share.
	for nofile := uint64(1089); nofile < 3000; nofile += 7 {
		lim, err := LimitsFor(nofile)
		if err != nil {
			t.Fatalf("LimitsFor(%d): %v", nofile, err)
		}
		if api := uint64(lim.Total*connFDs + 1); nofile-api < fdReserve {
			t.Fatalf("LimitsFor(%d): the API may hold %d fds, leaving %d < %d", nofile, api, nofile-api, fdReserve)
		}
		if lim.PerUID > lim.Total-lim.RootReserve || lim.RootReserve < 2 {
			t.Fatalf("LimitsFor(%d): per uid %d, reserve %d of %d", nofile, lim.PerUID, lim.RootReserve, lim.Total)
		}
	}
}

// TestListenerCaps runs the listener on a real unix socket, as whoever
// runs the tests: root is bounded by Total, anyone else by PerUID.
func TestListenerCaps(t *testing.T) {
	lim := testLimits()
	lim.Total, lim.RootReserve, lim.PerUID = 4, 2, 2
	want := lim.PerUID
	if os.Geteuid() == 0 {
		want = lim.Total
	}
	sock := filepath.Join(t.TempDir(), "api.sock")
	inner, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := newTestLog()
	ln := LimitListener(inner, lim, log)
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	next := func() *PeerConn {
		t.Helper()
		select {
		case c := <-accepted:
			return c.(*PeerConn)
		case <-time.After(60 * time.Second):
			t.Fatal("no connection accepted after 60 s")
		}
		return nil
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	me := Peer{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid()), PID: int32(os.Getpid())}
	var held []*PeerConn
	for range want {
		dial()
		c := next()
		if c.Peer != me {
			t.Fatalf("peer %+v, want %+v", c.Peer, me)
		}
		held = append(held, c)
	}
	if n := ln.Open(me.UID); n != want {
		t.Fatalf("open: %d, want %d", n, want)
	}
	// Over the cap: a 503 and closed at once, never handed to the server.
	for range 3 {
		c := dial()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "HTTP/1.1 503 ") || !strings.Contains(string(b), "connection limit") {
			t.Fatalf("refused connection got %q", b)
		}
	}
	select {
	case c := <-accepted:
		t.Fatalf("a connection over the cap was accepted: %+v", c.(*PeerConn).Peer)
	default:
	}
	if n := logs.count("refusing API connections over the limit", "uid="+strconv.FormatUint(uint64(me.UID), 10)); n != 1 {
		t.Fatalf("3 refusals logged %d times, want once:\n%s", n, logs)
	}
	// Closing gives the slot back, once however often it is closed.
	held[0].Close()
	held[0].Close()
	if n := ln.Open(me.UID); n != want-1 {
		t.Fatalf("open after a close: %d, want %d", n, want-1)
	}
	dial()
	next()
	if n := ln.Open(me.UID); n != want {
		t.Fatalf("open: %d, want %d", n, want)
	}
}

// fakeListener fails Accept with err fails times, then returns conn once,
// then blocks until closed.
type fakeListener struct {
	err    error
	fails  int32
	calls  atomic.Int32
	conn   atomic.Pointer[net.Conn]
	closed chan struct{}
}

func (f *fakeListener) Accept() (net.Conn, error) {
	if f.calls.Add(1) <= f.fails || f.fails < 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", f.err)}
	}
	if c := f.conn.Swap(nil); c != nil {
		return *c, nil
	}
	<-f.closed
	return nil, net.ErrClosed
}

func (f *fakeListener) Close() error   { close(f.closed); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.UnixAddr{Name: "fake", Net: "unix"} }

// socketPair is a real connected unix socket, as accept would return.
func socketPair(t *testing.T) net.Conn {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	f := os.NewFile(uintptr(fds[0]), "pair")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListenerWaitsOutEMFILE(t *testing.T) {
	log, logs := newTestLog()
	f := &fakeListener{err: syscall.EMFILE, fails: 3, closed: make(chan struct{})}
	c := socketPair(t)
	f.conn.Store(&c)
	ln := LimitListener(f, testLimits(), log)
	got, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept after EMFILE: %v", err)
	}
	got.Close()
	if n := f.calls.Load(); n != 4 {
		t.Fatalf("accept called %d times, want 4", n)
	}
	if n := logs.count("accepting API connections", "too many open files"); n != 1 {
		t.Fatalf("3 EMFILEs logged %d times, want once:\n%s", n, logs)
	}
}

func TestListenerEMFILEDoesNotSpin(t *testing.T) {
	log, _ := newTestLog()
	f := &fakeListener{err: syscall.EMFILE, fails: -1, closed: make(chan struct{})}
	ln := LimitListener(f, testLimits(), log)
	done := make(chan error)
	go func() {
		_, err := ln.Accept()
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	// With the backoff (5 ms doubling), a handful of calls; a spinning
	// loop makes hundreds of thousands.
	if n := f.calls.Load(); n > 100 {
		t.Fatalf("accept called %d times in 300 ms: spinning", n)
	}
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}

func TestListenerPassesOtherErrors(t *testing.T) {
	log, _ := newTestLog()
	f := &fakeListener{err: syscall.EINVAL, fails: 1, closed: make(chan struct{})}
	_, err := LimitListener(f, testLimits(), log).Accept()
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Accept: %v, want EINVAL", err)
	}
}
