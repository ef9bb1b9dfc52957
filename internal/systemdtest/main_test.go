package systemdtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/microvm-host/microvm/internal/systemdtest"
)

// microvmPath is where the container sees the microvm binary built for
// the tier: the units call it, and so do the tests.
const microvmPath = "/usr/local/bin/microvm"

// TestMain runs the tier against one container, booted on first use and
// powered off at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		if err := shared.c.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "systemdtest: %v\n", err)
			code = 1
		}
	}
	if shared.bin != "" {
		os.RemoveAll(shared.bin)
	}
	os.Exit(code)
}

// shared is the container of this test binary: booting one takes
// seconds, so the tests share it and keep apart by VM name.
var shared struct {
	once sync.Once
	c    *systemdtest.Container
	bin  string // the directory of the microvm binary
	err  error
}

// boot returns the shared container, booting it on first use, or skips
// the test when the tier cannot run here.
func boot(t *testing.T) *systemdtest.Container {
	t.Helper()
	if reason := systemdtest.Unavailable(); reason != "" {
		t.Skip(reason)
	}
	shared.once.Do(func() {
		microvm, err := buildMicrovm()
		if err != nil {
			shared.err = err
			return
		}
		shared.c, shared.err = systemdtest.Boot(context.Background(), systemdtest.Options{
			Binds: []systemdtest.Bind{{Host: microvm, Container: microvmPath}},
			Log:   func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
		})
		if shared.err == nil {
			shared.err = setUp(shared.c)
		}
	})
	if shared.err != nil {
		t.Fatalf("the systemd container: %v", shared.err)
	}
	return shared.c
}

// buildMicrovm builds cmd/microvm with the go command running the tests,
// without the race detector whatever the tests use: systemd runs the
// binary for every step of every VM, and a race-enabled one takes
// several times as long to start.
func buildMicrovm() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir, err := os.MkdirTemp("", "microvm-systemdtest-bin-")
	if err != nil {
		return "", err
	}
	shared.bin = dir
	// The VM user runs it through the bind mount: the file must be
	// readable and executable by all.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "microvm")
	cmd := exec.Command(goCmd, "build", "-o", bin, "github.com/microvm-host/microvm/cmd/microvm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building microvm: %w\n%s", err, out)
	}
	return bin, nil
}

// autostartVM is the VM microvms.target starts at boot (see
// TestAutostartAcrossReboot).
const autostartVM = "autostart"

// macvtapNodes stands in for devtmpfs in the container: nspawn's /dev is
// a tmpfs of its own, so the /dev/tapN of a macvtap made in the container
// appears only in the host's /dev. This makes each macvtap's node from
// its sysfs entry (major:minor), and removes nodes whose macvtap is gone,
// as devtmpfs does.
const macvtapNodes = `#!/bin/sh
while :; do
	for d in /sys/class/net/*/macvtap/tap*/dev; do
		[ -e "$d" ] || continue
		n=${d%/dev}
		n=/dev/${n##*/}
		[ -e "$n" ] || mknod -m 600 "$n" c $(tr : ' ' < "$d")
	done
	for n in /dev/tap[0-9]*; do
		[ -e "$n" ] || continue
		set -- /sys/class/net/*/macvtap/${n#/dev/}
		[ -e "$1" ] || rm -f "$n"
	done
	sleep 0.05
done
`

const macvtapNodesUnit = `[Unit]
Description=systemdtest: /dev/tapN of macvtaps (devtmpfs stand-in)
[Service]
ExecStart=/usr/local/sbin/systemdtest-macvtap-nodes
[Install]
WantedBy=multi-user.target
`

// setUp prepares the booted container once, as an administrator would:
// `microvm host init` (the VM user and group), `microvm systemd install`
// (TestInstall checks what it did), and for the tests the macvtap node
// stand-in.
func setUp(c *systemdtest.Container) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if err := c.WriteFile("/usr/local/sbin/systemdtest-macvtap-nodes", []byte(macvtapNodes), 0o755); err != nil {
		return err
	}
	if err := c.WriteFile("/etc/systemd/system/systemdtest-macvtap-nodes.service", []byte(macvtapNodesUnit), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"microvm", "host", "init"},
		{"microvm", "systemd", "install", "--autostart", autostartVM},
		{"systemctl", "enable", "--now", "systemdtest-macvtap-nodes.service"},
	} {
		if _, err := c.Run(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}
