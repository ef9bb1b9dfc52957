package systemdtest

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed boot.sh
var bootScript string

// Timeouts of the container's life. A boot takes a few seconds; these
// leave room for a machine busy with other tests.
const (
	BootTimeout     = 90 * time.Second
	poweroffTimeout = 30 * time.Second
)

// Bind makes a host file or directory visible read-only in the container.
type Bind struct {
	Host, Container string
}

// Options configure Boot.
type Options struct {
	// Binds are bind-mounted read-only into the container (for example
	// the freshly built microvm binary).
	Binds []Bind
	// Log receives the harness's progress lines (the console goes to
	// Console); nil discards them.
	Log func(format string, args ...any)
}

// Container is a running systemd in an overlay of the host's root.
type Container struct {
	dir     string // the harness's files on the host: one directory, whatever is left after a kill
	scratch string // dir/mnt: the overlay's tmpfs, in the shell's mount namespace only
	console string // dir/console: the container's console
	log     func(string, ...any)
	shell   *os.Process
	exited  chan struct{} // closed when the shell is gone
	waitErr error

	mu     sync.Mutex
	leader int // the container's PID 1 on the host, once known
	closed bool
}

// Boot starts the container and waits until its systemd reached its
// default target (multi-user.target). Call Close when done, whatever
// happens; a test binary that dies without it still takes the container
// down (see doc.go).
func Boot(ctx context.Context, o Options) (c *Container, err error) {
	if reason := Unavailable(); reason != "" {
		return nil, errors.New(reason)
	}
	dir, err := os.MkdirTemp("", "microvm-systemdtest-")
	if err != nil {
		return nil, err
	}
	scratch := filepath.Join(dir, "mnt")
	if err := os.Mkdir(scratch, 0o700); err != nil {
		return nil, err
	}
	c = &Container{
		dir:     dir,
		scratch: scratch,
		console: filepath.Join(dir, "console"),
		log:     o.Log,
		exited:  make(chan struct{}),
	}
	if c.log == nil {
		c.log = func(string, ...any) {}
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	id := make([]byte, 16)
	rand.Read(id)
	if err := os.WriteFile(c.script(), []byte(bootScript), 0o700); err != nil {
		return nil, err
	}
	args := []string{c.script(), scratch, hex.EncodeToString(id),
		"--register=no", "--keep-unit", "--boot", "--private-network",
		"--link-journal=no", "--console=read-only", "--machine=microvm-systemdtest",
	}
	for _, b := range o.Binds {
		if strings.ContainsAny(b.Host+b.Container, ":,") {
			return nil, fmt.Errorf("bind %q → %q: nspawn cannot bind paths with ':' or ','", b.Host, b.Container)
		}
		args = append(args, "--bind-ro="+b.Host+":"+b.Container)
	}
	if err := c.start(args); err != nil {
		return nil, err
	}
	if err := c.waitBooted(ctx); err != nil {
		return nil, fmt.Errorf("booting the container: %w\nconsole:\n%s", err, c.consoleTail())
	}
	return c, nil
}

// start runs the boot shell in a mount namespace of its own. It is
// started from a goroutine locked to its OS thread for the shell's whole
// life: Pdeathsig fires when the thread that forked the child exits, and
// Go may otherwise retire that thread at any time (golang/go#27505).
func (c *Container) start(args []string) error {
	out, err := os.OpenFile(c.console, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after
		// the shell is gone.
		defer out.Close()
		cmd := exec.Command("/bin/sh", args...)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Env = cleanEnv()
		cmd.SysProcAttr = &syscall.SysProcAttr{
			// Go makes / private in the new namespace, so nothing
			// mounted here reaches the host.
			Unshareflags: syscall.CLONE_NEWNS,
			Pdeathsig:    syscall.SIGTERM,
			Setpgid:      true,
		}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("starting systemd-nspawn: %w", err)
			close(c.exited)
			return
		}
		c.shell = cmd.Process
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return <-started
}

// waitBooted waits for the container's PID 1 and then for its boot to end
// (`systemctl is-system-running --wait`).
func (c *Container) waitBooted(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, BootTimeout)
	defer cancel()
	for {
		leader, err := c.findLeader()
		if err == nil {
			c.mu.Lock()
			c.leader = leader
			c.mu.Unlock()
			out, err := c.Command(ctx, "systemctl", "is-system-running", "--wait").CombinedOutput()
			state := strings.TrimSpace(string(out))
			switch {
			case state == "running":
				c.log("systemdtest: the container's systemd is running (PID 1 is %d on the host)", leader)
				return nil
			case state == "degraded":
				failed, _ := c.Command(ctx, "systemctl", "--failed", "--no-legend", "--plain").CombinedOutput()
				c.log("systemdtest: the container booted degraded; failed units:\n%s", failed)
				return nil
			}
			// Too early: systemd is not yet PID 1, or not yet answering.
			_ = err
		}
		select {
		case <-c.exited:
			return fmt.Errorf("systemd-nspawn exited: %v", c.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not booted within %s: %w", BootTimeout, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// consoleTail is the end of the container's console, for error messages.
func (c *Container) consoleTail() string {
	b, _ := os.ReadFile(c.console)
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// Console is the container's console so far (boot messages, nspawn's own).
func (c *Container) Console() string {
	b, _ := os.ReadFile(c.console)
	return string(b)
}

// Path is where the host sees path of the container: through its PID 1's
// root. Absolute symbolic links inside the container resolve against the
// host's root there: use it for plain files and directories.
func (c *Container) Path(path string) string {
	return filepath.Join(fmt.Sprintf("/proc/%d/root", c.Leader()), path)
}

// cleanEnv is the environment of everything run in the container: none
// of the test's own (its state directory, its PATH) leaks in.
func cleanEnv() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
		"LANG=C.UTF-8",
		"SYSTEMD_PAGER=",
		"SYSTEMD_COLORS=0",
		"NO_COLOR=1",
	}
}
