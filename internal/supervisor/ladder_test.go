package supervisor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// fakeGuest is a hypervisor and its runner's shutdown script, in a
// synctest bubble: the times it records are the bubble's fake time since
// the ladder started.
type fakeGuest struct {
	start time.Time
	// obeys says whether the n-th request (from 1) powers the guest off,
	// and after how long.
	obeys func(n int) (bool, time.Duration)
	// blocks makes the script wait until the guest is gone, as
	// `microvm runner shutdown` does.
	blocks bool
	fails  error // every request fails with it
	// ignore are the signals the hypervisor survives.
	ignore map[syscall.Signal]bool

	mu       sync.Mutex
	requests []time.Duration
	lefts    []time.Duration
	signals  []string
	exited   chan struct{}
	once     sync.Once
}

func newFakeGuest() *fakeGuest {
	return &fakeGuest{start: time.Now(), exited: make(chan struct{}), ignore: map[syscall.Signal]bool{}}
}

func (f *fakeGuest) exit() { f.once.Do(func() { close(f.exited) }) }

func (f *fakeGuest) gone() <-chan struct{} { return f.exited }

func (f *fakeGuest) request(ctx context.Context, left time.Duration) error {
	f.mu.Lock()
	f.requests = append(f.requests, time.Since(f.start))
	f.lefts = append(f.lefts, left)
	n := len(f.requests)
	f.mu.Unlock()
	if f.fails != nil {
		return f.fails
	}
	if f.obeys != nil {
		if ok, after := f.obeys(n); ok {
			time.AfterFunc(after, f.exit)
		}
	}
	if !f.blocks {
		return nil
	}
	select {
	case <-f.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeGuest) signal(sig syscall.Signal) error {
	f.mu.Lock()
	f.signals = append(f.signals, sig.String())
	f.mu.Unlock()
	if !f.ignore[sig] {
		f.exit()
	}
	return nil
}

var testLadder = Ladder{Timeout: 40 * time.Second, Resend: 15 * time.Second, KillAfter: 10 * time.Second}

func TestLadder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		graceful bool
		setup    func(f *fakeGuest)
		how      string
		after    time.Duration
		requests []time.Duration
		signals  string
		message  string
		log      string // in the log
	}{{
		name: "polite", graceful: true,
		setup:    func(f *fakeGuest) { f.obeys = func(int) (bool, time.Duration) { return true, 3200 * time.Millisecond } },
		how:      ShutDown,
		after:    3200 * time.Millisecond,
		requests: []time.Duration{0},
		message:  "shut down by the guest after 3.2 s",
	}, {
		// A hand-written script sends one request and returns; the first
		// is lost (the guest was booting), the re-sent one works.
		name: "first request lost", graceful: true,
		setup:    func(f *fakeGuest) { f.obeys = func(n int) (bool, time.Duration) { return n == 2, 2 * time.Second } },
		how:      ShutDown,
		after:    17 * time.Second,
		requests: []time.Duration{0, 15 * time.Second},
		message:  "shut down by the guest after 17.0 s",
		log:      "asking the guest again",
	}, {
		// `microvm runner shutdown` waits and re-sends by itself: the
		// ladder must not run a second copy beside it.
		name: "script re-sends itself", graceful: true,
		setup:    func(f *fakeGuest) { f.blocks = true },
		how:      Terminated,
		after:    40 * time.Second,
		requests: []time.Duration{0},
		signals:  "terminated",
		message:  "did not power off within 40 s; terminated",
		log:      "did not power off within 40s; sending SIGTERM",
	}, {
		name: "deaf and stubborn", graceful: true,
		setup:    func(f *fakeGuest) { f.ignore[syscall.SIGTERM] = true },
		how:      Killed,
		after:    50 * time.Second,
		requests: []time.Duration{0, 15 * time.Second, 30 * time.Second},
		signals:  "terminated,killed",
		message:  "did not power off within 40 s; killed: still running 10 s after SIGTERM",
		log:      "still running 10s after SIGTERM; sending SIGKILL",
	}, {
		// The control socket is not up yet: each failure is logged and
		// the request made again.
		name: "requests fail", graceful: true,
		setup:    func(f *fakeGuest) { f.fails = errors.New("connect: no such file") },
		how:      Terminated,
		after:    40 * time.Second,
		requests: []time.Duration{0, 15 * time.Second, 30 * time.Second},
		signals:  "terminated",
		message:  "did not power off within 40 s; terminated",
		log:      "shutdown request failed",
	}, {
		name:    "no microvm-shutdown",
		how:     Terminated,
		signals: "terminated",
		message: "terminated (the runner has no bin/microvm-shutdown)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeGuest()
				if tc.setup != nil {
					tc.setup(f)
				}
				var logs bytes.Buffer
				o, err := testLadder.run(t.Context(), f, tc.graceful, slog.New(slog.NewTextHandler(&logs, nil)))
				if err != nil {
					t.Fatal(err)
				}
				if o.How != tc.how || o.After != tc.after || !o.Requested {
					t.Errorf("outcome %+v; want %s after %s", o, tc.how, tc.after)
				}
				if got := o.String(); got != tc.message {
					t.Errorf("message %q; want %q", got, tc.message)
				}
				if !equal(f.requests, tc.requests) {
					t.Errorf("requests at %v; want %v", f.requests, tc.requests)
				}
				if got := strings.Join(f.signals, ","); got != tc.signals {
					t.Errorf("signals %q; want %q", got, tc.signals)
				}
				if !strings.Contains(logs.String(), tc.log) {
					t.Errorf("log lacks %q:\n%s", tc.log, logs.String())
				}
			})
		})
	}
}

// TestLadderTimeLeft: a re-run script is told the graceful time that is
// left, so that it does not wait past the ladder's SIGTERM.
func TestLadderTimeLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeGuest()
		testLadder.run(t.Context(), f, true, slog.New(slog.DiscardHandler))
		if want := []time.Duration{40 * time.Second, 25 * time.Second, 10 * time.Second}; !equal(f.lefts, want) {
			t.Errorf("time left %v; want %v", f.lefts, want)
		}
	})
}

// TestLadderCanceled: a stop whose caller gives up returns at once,
// without signalling.
func TestLadderCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeGuest()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := testLadder.run(ctx, f, true, slog.New(slog.DiscardHandler))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v; want the caller's deadline", err)
		}
		if len(f.signals) != 0 {
			t.Errorf("signalled %v after the caller gave up", f.signals)
		}
	})
}

func TestLadderOrAndCheck(t *testing.T) {
	l := Ladder{Timeout: time.Second}.Or(DefaultLadder)
	if l != (Ladder{time.Second, DefaultLadder.Resend, DefaultLadder.KillAfter}) {
		t.Errorf("Or: %+v", l)
	}
	if err := (Ladder{Timeout: time.Second, Resend: -time.Second, KillAfter: time.Second}).Check(); err == nil || !strings.Contains(err.Error(), "stop resend -1s") {
		t.Errorf("Check of a negative resend: %v", err)
	}
}
