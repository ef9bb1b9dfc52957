// Package virtiofsd runs the virtiofsd daemons of one VM: one per virtiofs
// share, all listening before the VM starts, restarted when they exit,
// and all stopped together.
//
// It replaces microvm.nix's supervisord fleet (nixos-modules/microvm/
// virtiofsd), whose readiness count was off by one (#382) and lost events
// with more than nine shares (#554).
package virtiofsd

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/microvm-host/microvm/internal/trust"
)

// Share is one virtiofs share. Source and Socket are absolute; the caller
// resolves them against the VM directory.
type Share struct {
	Tag, Source, Socket string
}

// Config says how to run the daemons of a fleet.
type Config struct {
	// Binary is the virtiofsd to run; "" means Find().
	Binary string
	// Group owns each socket, mode 0770, so the VMM running as this group
	// can connect. Negative leaves the daemon's 0700 root socket.
	Group int
	// VMUser, when set, is the VM user root runs the daemons for: share
	// sources and socket directories must not resolve through anything
	// it could replace (it could point root's daemon at /root), and the
	// sockets are handed over through descriptors (package trust).
	VMUser *trust.User
	// ThreadPoolSize is virtiofsd's --thread-pool-size; 0 means the
	// number of CPUs (microvm.nix's `nproc` default), negative leaves the
	// daemon's default.
	ThreadPoolSize int
	// ExtraArgs go after the generated arguments of every daemon.
	ExtraArgs []string
	Log       *slog.Logger
	// AnnounceTags passes each share's tag to its daemon (--tag), which
	// then answers VHOST_USER_GET_CONFIG with it. crosvm needs this: its
	// "--vhost-user type=fs" carries no tag and asks the backend
	// (microvm.nix passes --tag for crosvm). Only the Rust flavor has the
	// flag, so Start refuses the C one.
	AnnounceTags bool
	// ReadyTimeout bounds the wait for a daemon's socket to listen; zero
	// means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// RestartDelay is the first wait before restarting a daemon that
	// exited; it doubles on every quick exit up to MaxRestartDelay. Zero
	// means DefaultRestartDelay.
	RestartDelay time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL;
	// zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Defaults for the zero values of Config.
const (
	DefaultReadyTimeout = 30 * time.Second
	DefaultRestartDelay = time.Second
	DefaultStopTimeout  = 5 * time.Second
	// MaxRestartDelay caps the restart backoff.
	MaxRestartDelay = 30 * time.Second
	// HealthyRun is how long a daemon must have run for its exit to count
	// as an ordinary end (a VM disconnecting) rather than a crash: the
	// backoff and the crash-loop count start over.
	HealthyRun = 10 * time.Second
	// MaxCrashes is how many quick exits in a row make the fleet give up
	// on a share; Wait then returns an error.
	MaxCrashes = 10
)

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.ThreadPoolSize == 0 {
		c.ThreadPoolSize = runtime.NumCPU()
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.RestartDelay <= 0 {
		c.RestartDelay = DefaultRestartDelay
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	return c
}

// Flavor is which virtiofsd a binary is; their command lines differ.
type Flavor int

const (
	// Rust is the virtiofsd from gitlab.com/virtio-fs/virtiofsd, the one
	// microvm.nix uses: --shared-dir, --xattr.
	Rust Flavor = iota + 1
	// QEMU is the C virtiofsd shipped with qemu up to 7.2 (Debian 12's
	// /usr/lib/qemu/virtiofsd): -o source=, -o xattr.
	QEMU
)

func (f Flavor) String() string {
	switch f {
	case Rust:
		return "rust"
	case QEMU:
		return "qemu"
	}
	return fmt.Sprintf("Flavor(%d)", int(f))
}
