package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// KernelParams is microvm.nix's x86_64 qemu console prefix of the kernel
// command line.
const KernelParams = "earlyprintk=ttyS0 console=ttyS0 reboot=t panic=-1"

// TCGKernelParams must be on the kernel command line under TCG. With
// microvm.nix's pit=off the guest has no timer to calibrate the TSC
// against, marks it unstable and hangs; pit=on only helps sometimes, as
// PIT calibration fails under TCG on a busy host too. TCG's TSC runs at
// the host's TSC rate, so the value is a guess: a wrong one only makes the
// guest clock drift.
const TCGKernelParams = "tsc_early_khz=2000000"

// bootArgs is the qemu command line (without the binary) that boots kernel
// and initrd on the microvm machine the way microvm.nix does on x86_64,
// with the serial console on stdio. accel is "tcg" or "kvm".
func bootArgs(accel, kernel, initrd, params string, extra ...string) []string {
	args := []string{
		"-M", "microvm,accel=" + accel + ",acpi=on,pcie=off,pic=off,pit=off,usb=off",
	}
	if accel == "kvm" {
		args = append(args, "-enable-kvm", "-cpu", "host")
	} else {
		args = append(args, "-cpu", "max")
		params = TCGKernelParams + " " + params
	}
	args = append(args,
		"-m", "256", "-smp", "1",
		"-nodefaults", "-no-user-config", "-no-reboot", "-nographic",
		"-chardev", "stdio,id=stdio,signal=off", "-serial", "chardev:stdio",
		// i8042 carries Ctrl+Alt+Del, microvm.nix's qemu shutdown request.
		"-device", "i8042",
		"-kernel", kernel, "-initrd", initrd,
		"-append", strings.TrimSpace(KernelParams+" "+params),
	)
	return append(args, extra...)
}

// maxConsole bounds the console kept in memory; a looping guest must not
// eat the host's memory.
const maxConsole = 1 << 20

// machine is a running qemu whose console (stdout and stderr) is captured.
type machine struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    []byte
	change chan struct{} // closed and replaced whenever out grows
	exited chan struct{} // closed after Wait returned; err is then set
	err    error
}

// startMachine starts qemu in its own process group, so killing it takes
// any helper it spawned along.
func startMachine(qemu string, args []string) (*machine, error) {
	m := &machine{change: make(chan struct{}), exited: make(chan struct{})}
	m.cmd = exec.Command(qemu, args...)
	m.cmd.Stdout = m
	m.cmd.Stderr = m
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A child that inherited the console pipe must not keep Wait waiting.
	m.cmd.WaitDelay = time.Second
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %v: %w", m.cmd.Args, err)
	}
	go func() {
		err := m.cmd.Wait()
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.exited)
	}()
	return m, nil
}

func (m *machine) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.out = append(m.out, p...)
	if len(m.out) > maxConsole {
		m.out = m.out[len(m.out)-maxConsole:]
	}
	close(m.change)
	m.change = make(chan struct{})
	return len(p), nil
}

// console returns what qemu printed so far (the last maxConsole bytes).
func (m *machine) console() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.out)
}

// waitFor returns once the console contains line, and fails early when the
// guest reports an error, qemu exits, or ctx ends.
func (m *machine) waitFor(ctx context.Context, line string) error {
	for {
		m.mu.Lock()
		found := bytes.Contains(m.out, []byte(line))
		var guestErr string
		if i := bytes.Index(m.out, []byte(ErrorPrefix)); i >= 0 {
			msg, _, _ := bytes.Cut(m.out[i:], []byte("\n"))
			guestErr = string(bytes.TrimSpace(msg))
		}
		change := m.change
		m.mu.Unlock()
		switch {
		case found:
			return nil
		case guestErr != "":
			return fmt.Errorf("waiting for %q: guest reported %q", line, guestErr)
		}
		select {
		case <-change:
		case <-m.exited:
			// Stdout is drained before Wait returns: one last look.
			if strings.Contains(m.console(), line) {
				return nil
			}
			return fmt.Errorf("waiting for %q: qemu exited: %v", line, m.wait())
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q: %w", line, ctx.Err())
		}
	}
}

// wait waits for qemu to exit and returns its Wait error.
func (m *machine) wait() error {
	<-m.exited
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// kill kills qemu's process group and waits for qemu to be reaped.
func (m *machine) kill() {
	select {
	case <-m.exited:
		return
	default:
	}
	if err := syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = m.cmd.Process.Kill()
	}
	_ = m.wait()
}
