package virtiofsd

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRestartAfterExit(t *testing.T) {
	shares := testShares(t, 2)
	setMode(t, shares[0], "exit-once")
	f, err := Start(t.Context(), "web", shares, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := runs(t, shares[0])
		if len(pids) == 2 {
			if table, err := readListeners(); err == nil && listening(table, shares[0].Socket, pids[1]) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not restarted and listening; runs %v", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(runs(t, shares[1])); n != 1 {
		t.Errorf("the other share ran %d times, want 1", n)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, shares)
}

func TestCrashLoopGivesUp(t *testing.T) {
	shares := testShares(t, 1)
	setMode(t, shares[0], "crash-loop")
	c := testConfig(t)
	c.RestartDelay = time.Millisecond
	f, err := Start(t.Context(), "web", shares, c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "giving up") || !strings.Contains(err.Error(), `"share0"`) {
			t.Errorf("Wait: %v, want a give-up error naming share0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fleet did not give up on a crash loop")
	}
	if n := len(runs(t, shares[0])); n != MaxCrashes {
		t.Errorf("%d runs, want %d", n, MaxCrashes)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, shares)
}

// TestRestartAfterClientLeaves plays a VM that boots and powers off more
// often than MaxCrashes: each disconnect ends the daemon with status 0,
// which is no failure, so the fleet never gives up.
func TestRestartAfterClientLeaves(t *testing.T) {
	shares := testShares(t, 1)
	f, err := Start(t.Context(), "web", shares, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	for boot := 1; boot <= MaxCrashes+2; boot++ {
		conn, err := net.Dial("unix", shares[0].Socket)
		if err != nil {
			t.Fatalf("boot %d: %v", boot, err)
		}
		conn.Close()
		// The exit and restart take a moment to notice.
		for len(runs(t, shares[0])) < boot+1 {
			time.Sleep(5 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err = f.Ready(ctx)
		cancel()
		if err != nil {
			t.Fatalf("boot %d: %v", boot, err)
		}
	}
	select {
	case <-f.failed:
		t.Fatalf("fleet gave up: %v", f.failErr)
	default:
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, shares)
}
