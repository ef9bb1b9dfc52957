package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// notFired bounds waits for things that should happen; it only expires when
// the test is failing, so it can be generous.
const notFired = 30 * time.Second

// collector is Follow's out: it records bytes and signals each write.
type collector struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.Write(p)
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (c *collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// waitLen waits until at least n bytes were collected.
func (c *collector) waitLen(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(notFired)
	for len(c.String()) < n {
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("collected %d bytes, want %d", len(c.String()), n)
		}
	}
}

// waiters runs a test with the inotify waiter and the polling fallback (fast,
// so the test is quick; slow enough to fall several rotations behind).
func waiters(t *testing.T, run func(t *testing.T, newWaiter func(path string) waiter)) {
	t.Run("inotify", func(t *testing.T) {
		run(t, func(path string) waiter {
			w, err := newInotifyWaiter(path)
			if err != nil {
				t.Fatal(err)
			}
			return w
		})
	})
	t.Run("poll", func(t *testing.T) {
		run(t, func(string) waiter { return pollWaiter{every: 5 * time.Millisecond} })
	})
}

// startFollow runs follow in the background; the returned stop cancels it
// and returns its error.
func startFollow(t *testing.T, path string, from int64, out *collector, w waiter) (stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		defer w.Close()
		errc <- follow(ctx, path, from, out, w)
	}()
	return func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(notFired):
			t.Fatal("follow did not return after cancel")
			return nil
		}
	}
}

func TestFollowAppended(t *testing.T) {
	waiters(t, func(t *testing.T, newWaiter func(string) waiter) {
		path, w := openLog(t, 0, 2)
		writeAll(t, w, "old\n")
		out := newCollector()
		stop := startFollow(t, path, int64(len("old\n")), out, newWaiter(path))
		writeAll(t, w, "new1\n")
		out.waitLen(t, len("new1\n"))
		writeAll(t, w, "new2\n")
		out.waitLen(t, len("new1\nnew2\n"))
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("follow returned %v, want context.Canceled", err)
		}
		if got := out.String(); got != "new1\nnew2\n" {
			t.Errorf("followed %q", got)
		}
	})
}

func TestFollowAcrossRotation(t *testing.T) {
	waiters(t, func(t *testing.T, newWaiter func(string) waiter) {
		const lines = 10000
		// ~59 rotations of 1020 bytes; keep is larger, so a follower that
		// falls behind must still find every generation.
		path, w := openLog(t, 1024, 64)
		var want strings.Builder
		for i := range lines {
			fmt.Fprintf(&want, "%05d\n", i)
		}
		out := newCollector()
		stop := startFollow(t, path, 0, out, newWaiter(path))
		// Line 0 arriving proves follow holds the first generation before
		// any rotation can move it.
		writeAll(t, w, "00000\n")
		out.waitLen(t, 6)
		for i := 1; i < lines; i++ {
			writeAll(t, w, fmt.Sprintf("%05d\n", i))
		}
		out.waitLen(t, want.Len())
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("follow returned %v, want context.Canceled", err)
		}
		if got := out.String(); got != want.String() {
			t.Errorf("followed %d bytes, want %d; first difference at byte %d",
				len(got), want.Len(), firstDiff(got, want.String()))
		}
	})
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Falling further behind than keep loses the dropped generations; the
// follower must notice and carry on with the current file.
func TestFollowAfterDroppedGeneration(t *testing.T) {
	path, w := openLog(t, 2, 1)
	writeAll(t, w, "a\n")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	out := newCollector()
	fl := &follower{path: path, cur: f, out: out, buf: make([]byte, 64)}
	defer func() { fl.cur.Close() }()
	writeAll(t, w, "b\n", "c\n") // "a\n" dropped, "b\n" in path.1, "c\n" in path
	if !fl.rotated() || !fl.advance() {
		t.Fatal("follower did not move on from a dropped generation")
	}
	if err := fl.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "c\n" {
		t.Errorf("after resync followed %q, want %q", got, "c\n")
	}
}

func TestFollowCancelWhileIdle(t *testing.T) {
	waiters(t, func(t *testing.T, newWaiter func(string) waiter) {
		path, _ := openLog(t, 0, 2)
		stop := startFollow(t, path, 0, newCollector(), newWaiter(path))
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("follow returned %v, want context.Canceled", err)
		}
	})
}

// The exported entry point picks its waiter and honours ctx.
func TestFollowPublic(t *testing.T) {
	path, w := openLog(t, 0, 2)
	writeAll(t, w, "x\n")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Follow(ctx, path, 0, newCollector()); !errors.Is(err, context.Canceled) {
		t.Errorf("Follow on cancelled ctx: %v", err)
	}
	err := Follow(t.Context(), filepath.Join(t.TempDir(), "nope.log"), 0, newCollector())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Follow of missing log: %v, want fs.ErrNotExist", err)
	}
}
