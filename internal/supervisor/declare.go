package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// applyGrace is how long an apply has to stop at a safe point when the
// daemon stops, before it is killed (which apply survives too: the next
// one converges).
const applyGrace = 10 * time.Second

// Reapply asks the daemon to apply host.toml's declared VMs (microvm
// apply): at SIGHUP, and when the file changed with watchConfig. Requests
// made while an apply runs make one more apply after it, so the last
// change is always applied; it never blocks.
func (d *Daemon) Reapply() {
	select {
	case d.applyReq <- struct{}{}:
	default: // one is pending already
	}
}

// applyLoop applies once at the start, closes declared, then applies at
// each request until the daemon stops.
func (d *Daemon) applyLoop(declared chan<- struct{}) {
	d.apply("start")
	close(declared)
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.applyReq:
			d.apply("request")
		}
	}
}

// apply runs `microvm apply` as a child, as installing a declared VM
// always did (microvm.nix's install-microvm-NAME): the same code as the
// verb, in a process of its own, with its own locks, whose steps stop,
// start and restart VMs through this daemon's API like any client. The
// child reads host.toml itself ($MICROVM_HOST_CONFIG in Env), so the
// file's newest version is applied; a file with errors changes nothing
// and is logged.
func (d *Daemon) apply(why string) {
	if d.Microvm == "" {
		return
	}
	if d.ConfigPath != "" {
		if _, err := os.Stat(d.ConfigPath); errors.Is(err, fs.ErrNotExist) {
			if why != "start" {
				d.Log.Warn("no host config to apply; write an empty one to declare no VMs", "config", d.ConfigPath)
			}
			return
		}
	}
	cmd := exec.CommandContext(d.ctx, d.Microvm, "--state-dir", d.State.Root, "apply")
	cmd.Env = d.Env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = applyGrace
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		d.Log.Info("apply", "why", why, "line", sc.Text())
	}
	if err != nil {
		if d.ctx.Err() == nil {
			d.Log.Warn("apply failed; see its lines above", "why", why, "err", err)
		}
		return
	}
	d.Log.Info("applied", "why", why, "took", time.Since(start).Round(time.Millisecond))
}
