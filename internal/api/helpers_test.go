package api

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf collects a logger's lines for tests to count.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count is the number of lines containing all of subs.
func (l *logBuf) count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

func newTestLog() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// testLimits are DefaultLimits with timeouts short enough for tests and
// refusals logged once per test.
func testLimits() Limits {
	lim := DefaultLimits
	lim.ReadHeaderTimeout = 2 * time.Second
	lim.IdleTimeout = 2 * time.Second
	lim.WriteTimeout = 2 * time.Second
	lim.LogEvery = time.Hour
	return lim
}

// eventually polls cond for up to a generous bound: the tests assert
// that things happen, never how fast.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 60 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
