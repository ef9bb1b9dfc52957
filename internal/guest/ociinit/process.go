package ociinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// notFoundError is a program that is not there: exit status 127.
type notFoundError struct{ err error }

func (e *notFoundError) Error() string { return e.err.Error() }
func (e *notFoundError) Unwrap() error { return e.err }

// start runs the process of cfg in the (already entered) image root, in a
// session of its own with the console as its controlling terminal.
func start(cfg *Config, log io.Writer) (int, error) {
	id, err := LookupUser("/", cfg.User)
	if err != nil {
		return 0, err
	}
	env := Environ(cfg.Env, id.Home)
	prog, err := LookPath("/", cfg.Args[0], env)
	if err != nil {
		return 0, &notFoundError{err}
	}
	dir := cfg.WorkingDir
	if dir == "" {
		dir = "/"
	}
	// Container runtimes create a missing working directory.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("working directory: %w", err)
	}
	console, ctty, err := openConsole()
	if err != nil {
		return 0, err
	}
	defer console.Close()
	fd := console.Fd()
	fmt.Fprintf(log, "microvm-init: running %s as %d:%d\n", quote(cfg.Args), id.UID, id.GID)
	pid, err := syscall.ForkExec(prog, cfg.Args, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{fd, fd, fd},
		Sys: &syscall.SysProcAttr{
			Setsid:     true,
			Setctty:    ctty,
			Credential: &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: id.Groups},
		},
	})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, &notFoundError{fmt.Errorf("running %s: %w", prog, err)}
		}
		return 0, fmt.Errorf("running %s: %w", prog, err)
	}
	return pid, nil
}

// openConsole opens the terminal behind /dev/console (ttyS0, hvc0, …),
// which, unlike /dev/console, can be the process's controlling terminal:
// then Ctrl+C on `microvm console` reaches it. ctty says whether it is.
func openConsole() (f *os.File, ctty bool, err error) {
	if active, err := os.ReadFile("/sys/class/tty/console/active"); err == nil {
		if names := strings.Fields(string(active)); len(names) > 0 {
			name := names[len(names)-1]
			if f, err := os.OpenFile("/dev/"+name, os.O_RDWR|unix.O_NOCTTY, 0); err == nil {
				return f, true, nil
			}
		}
	}
	f, err = os.OpenFile("/dev/console", os.O_RDWR|unix.O_NOCTTY, 0)
	return f, false, err
}

// supervise forwards stop requests and other signals to the process and
// reaps every child until the process itself exited.
func (in *initProcess) supervise(pid int, cfg *Config, stop <-chan stopRequest) (int, string) {
	stopSig, err := ParseSignal(cfg.StopSignal)
	if err != nil {
		in.say("warning: %v; using SIGTERM", err)
		stopSig = unix.SIGTERM
	}
	for req := range stop {
		switch {
		case req.reap:
		case req.forward != 0:
			unix.Kill(pid, req.forward)
			continue
		default:
			in.say("%s: sending %s to the process", req.why, unix.SignalName(stopSig))
			unix.Kill(pid, stopSig)
			continue
		}
		for {
			var ws unix.WaitStatus
			got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || got == 0 {
				break
			}
			if got == pid {
				return exitStatus(syscall.WaitStatus(ws))
			}
		}
	}
	return exitCannotRun, ""
}

// ParseSignal reads a STOPSIGNAL: a name with or without "SIG", or a
// number; "" is SIGTERM.
func ParseSignal(s string) (unix.Signal, error) {
	if s == "" {
		return unix.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("stop signal %q is not a signal", s)
}

// quote renders args as a shell would need them, for the console.
func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]{}~#!") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
