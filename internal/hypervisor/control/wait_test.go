package control

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sleeper starts a sleep and returns it with its start time.
func sleeper(t *testing.T) (*exec.Cmd, uint64) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, start
}

func TestWaitExit(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait func(context.Context, int, uint64) error
	}{{"pidfd", WaitExit}, {"proc", pollProc}} {
		wait := tc.wait
		t.Run(tc.name, func(t *testing.T) {
			cmd, start := sleeper(t)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if err := wait(ctx, cmd.Process.Pid, start); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("waiting for a running process = %v, want a deadline error", err)
			}
			// A reused pid is not the process we wait for.
			if err := wait(t.Context(), cmd.Process.Pid, start+1); err != nil {
				t.Errorf("waiting with another start time = %v", err)
			}
			// Killed but not reaped: a zombie has exited too.
			go func() {
				time.Sleep(100 * time.Millisecond)
				cmd.Process.Kill()
			}()
			ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := wait(ctx, cmd.Process.Pid, start); err != nil {
				t.Errorf("waiting for a killed process = %v", err)
			}
			cmd.Wait()
			if err := wait(ctx, cmd.Process.Pid, start); err != nil {
				t.Errorf("waiting for a reaped process = %v", err)
			}
		})
	}
}

func TestWaitSocketClosed(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "s.sock")
	if err := WaitSocketClosed(t.Context(), socket); err != nil {
		t.Errorf("no socket: %v", err)
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("greeting\n"))
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := WaitSocketClosed(ctx, socket); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("open socket: %v, want a deadline error", err)
	}
	(<-accepted).Close()

	go func() {
		if c, err := l.Accept(); err == nil {
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	if err := WaitSocketClosed(t.Context(), socket); err != nil {
		t.Errorf("socket closed by the server: %v", err)
	}
	l.Close()
	if err := WaitSocketClosed(t.Context(), socket); err != nil {
		t.Errorf("socket nobody listens on: %v", err)
	}
}
