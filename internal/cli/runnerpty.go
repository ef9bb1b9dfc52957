package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/microvm-host/microvm/internal/console"
)

// runOnPty runs path (argv) with a new pty as its stdin, stdout and
// stderr and copies its output to out, for hypervisors whose console fails
// unless stdin is a terminal (stratovirt, alioth; hypervisor.Command.
// NeedsTerminal) when ours is none, as under systemd. It is microvm.nix's
// unbuffer. Input is not forwarded: without a terminal nobody types, and
// the console of a VM that needs input runs under `run --monitor`, whose
// pty is a terminal. Signals to us go to the hypervisor, and we exit as it
// did; if we are killed, so is it.
func runOnPty(path string, argv []string, out io.Writer) error {
	// Pdeathsig fires when the thread that started the child ends; this
	// one stays locked until the process exits.
	runtime.LockOSThread()
	cmd := &exec.Cmd{Path: path, Args: argv, Env: os.Environ(),
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	relay, err := console.Start(cmd)
	if err != nil {
		return err
	}
	relay.CopyTo(out)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case err := <-done:
			relay.Close()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return exitError{code: 128 + int(ws.Signal())}
				}
				return exitError{code: ee.ExitCode()}
			}
			if err != nil {
				return fmt.Errorf("running %s: %w", path, err)
			}
			return nil
		}
	}
}
