package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollInterval bounds how late WaitExit notices ctx ending, and how often
// the /proc fallback looks.
const pollInterval = 100 * time.Millisecond

// WaitExit waits until process pid has exited. It need not be our child
// (the shutdown verb waits for a hypervisor the supervisor started), so
// it cannot wait(2): it polls a pidfd, or /proc where pidfds are
// unavailable (kernels before 5.3, seccomp). startTime is the process's
// start time in clock ticks since boot (/proc/PID/stat field 22, as
// state.Process records it); a process with that pid and another start
// time reused the pid, so ours has exited. 0 skips the check. A zombie
// has exited.
func WaitExit(ctx context.Context, pid int, startTime uint64) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return pollProc(ctx, pid, startTime)
	}
	defer unix.Close(fd)
	// Checked after opening: the pidfd pins the process it refers to, so
	// if pid is still ours now, fd is ours.
	if !running(pid, startTime) {
		return nil
	}
	// Block until the process exits or ctx ends, without waking up in
	// between: a daemon waits like this for hundreds of adopted VMs.
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("waiting for process %d to exit: %w", pid, err)
	}
	defer r.Close()
	stop := context.AfterFunc(ctx, func() { w.Close() })
	defer func() {
		if stop() {
			w.Close()
		}
	}()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(r.Fd()), Events: unix.POLLIN}}
	for {
		// A pidfd polls readable once its process has exited; the pipe
		// hangs up when ctx ends.
		_, err := unix.Poll(fds, -1)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("waiting for process %d to exit: polling pidfd: %w", pid, err)
		case fds[0].Revents != 0:
			return nil
		case fds[1].Revents != 0:
			return fmt.Errorf("waiting for process %d to exit: %w", pid, ctx.Err())
		}
	}
}

// pollProc is WaitExit without a pidfd.
func pollProc(ctx context.Context, pid int, startTime uint64) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for running(pid, startTime) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for process %d to exit: %w", pid, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// running reports whether pid is the process that started at startTime
// (any process when 0) and has not exited.
func running(pid int, startTime uint64) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The command name (field 2) may contain spaces and parentheses;
	// fields after the last ')' are state (3), …, starttime (22).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return false
	}
	if f[0] == "Z" || f[0] == "X" {
		return false
	}
	st, err := strconv.ParseUint(f[22-3], 10, 64)
	return err == nil && (startTime == 0 || st == startTime)
}

// WaitSocketClosed connects to socket and waits until the other end
// closes the connection. qemu's QMP socket and firecracker's API socket
// stay open until their process exits (microvm.nix's firecracker
// shutdown waits the same way); cloud-hypervisor closes its API socket
// before the guest is down (microvm.nix#152), so use WaitExit there. A
// socket that is gone or refuses connections counts as closed.
func WaitSocketClosed(ctx context.Context, socket string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("waiting for %q to close: %w", socket, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// QMP greets, then sends events; discard them. A connection still
	// queued behind another QMP client gets reset instead of EOF.
	_, err = io.Copy(io.Discard, conn)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for %q to close: %w", socket, ctx.Err())
	case err == nil || errors.Is(err, syscall.ECONNRESET):
		return nil
	}
	return fmt.Errorf("waiting for %q to close: %w", socket, err)
}
