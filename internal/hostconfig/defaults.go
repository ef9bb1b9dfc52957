package hostconfig

import (
	"path/filepath"
	"strings"
	"time"
)

// The defaults of what host.toml leaves out. The restart policy's
// defaults are the supervisor's (supervisor.DefaultPolicy): a Config
// leaves those zero.
const (
	DefaultUser              = "microvm"
	DefaultGroup             = "kvm"
	DefaultAutostartParallel = 2
	DefaultStopTimeout       = 150 * time.Second // microvm.nix's TimeoutSec
	// DefaultStopResend re-sends a lost or ignored Ctrl-Alt-Del (with the
	// power button) well before the timeout, but not so soon that a
	// systemd guest shutting down under TCG gets it twice within its
	// shutdown: harmless, yet noisy in its journal.
	DefaultStopResend = 15 * time.Second
	// DefaultStopKillAfter is how long the hypervisor has after SIGTERM
	// before SIGKILL (qemu exits at once on SIGTERM).
	DefaultStopKillAfter = 10 * time.Second
)

// applyDefaults fills what the file at path left out. Load has refused
// zeros written in the file, so a zero here means the key is absent.
func (c *Config) applyDefaults(path string) {
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.AutostartParallel == 0 {
		c.AutostartParallel = DefaultAutostartParallel
	}
	if c.StopTimeout.Duration == 0 {
		c.StopTimeout.Duration = DefaultStopTimeout
	}
	if c.StopResend.Duration == 0 {
		c.StopResend.Duration = DefaultStopResend
	}
	if c.StopKillAfter.Duration == 0 {
		c.StopKillAfter.Duration = DefaultStopKillAfter
	}
	c.networkDefaults()
	// Relative sources are relative to this file, not to wherever the
	// daemon runs (microvm.nix #538 for relative flake paths).
	for name, vm := range c.VM {
		if vm.Source != "" && !filepath.IsAbs(vm.Source) && !strings.Contains(vm.Source, ":") {
			vm.Source = filepath.Join(filepath.Dir(path), vm.Source)
			c.VM[name] = vm
		}
	}
}
