package systemdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Reboot reboots the container (systemctl reboot) and waits until its new
// systemd finished booting. The overlay, and so everything written into
// the container, survives.
func (c *Container) Reboot(ctx context.Context) error {
	old := c.Leader()
	c.log("systemdtest: rebooting the container")
	// The reboot may cut the connection before systemctl returns.
	c.Command(ctx, "systemctl", "reboot").Run()
	deadline := time.Now().Add(BootTimeout)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", old)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the container's PID 1 (%d) still runs %s after systemctl reboot", old, BootTimeout)
		}
		select {
		case <-c.exited:
			return fmt.Errorf("systemd-nspawn exited instead of rebooting: %v", c.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.mu.Lock()
	c.leader = 0
	c.mu.Unlock()
	if err := c.waitBooted(ctx); err != nil {
		return fmt.Errorf("after the reboot: %w\nconsole:\n%s", err, c.consoleTail())
	}
	return nil
}

// Close powers the container off, waits for it to go, and removes the
// harness's directory. The mounts go with the boot shell's namespace. It is
// safe to call more than once.
func (c *Container) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if c.shell != nil {
		// The shell dies at once; nspawn gets its pdeath SIGTERM and
		// powers the container off in order.
		c.shell.Signal(syscall.SIGTERM)
	}
	var err error
	if c.shell != nil {
		nspawnGone := c.waitGone(poweroffTimeout)
		if !nspawnGone {
			// Whatever is left of the process group: nspawn's own
			// PID 1 dies with nspawn (it has a pdeath SIGKILL).
			syscall.Kill(-c.shell.Pid, syscall.SIGKILL)
			err = fmt.Errorf("the container did not power off within %s; killed it", poweroffTimeout)
			c.waitGone(5 * time.Second)
		}
		<-c.exited
	}
	if rmErr := os.Remove(c.scratch); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		// Not empty means the overlay is still mounted somewhere.
		return errors.Join(err, fmt.Errorf("removing %s: %w", c.scratch, rmErr))
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// script is the boot shell's script.
func (c *Container) script() string { return filepath.Join(c.dir, "boot.sh") }

// waitGone waits until no process of the boot shell's process group is
// left (nspawn and its container), up to d.
func (c *Container) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(-c.shell.Pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
