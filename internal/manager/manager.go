// Package manager is the one place that decides who manages a VM — the
// embedded daemon, systemd, or nothing — and talks to it. The start,
// stop, restart, status, list, logs and update -R verbs all go through
// it, instead of each repeating the three-way choice.
package manager

import (
	"context"
	"errors"
	"io"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// Kind names who manages a VM.
type Kind string

const (
	// Daemon is `microvm daemon`, reached over its API socket.
	Daemon Kind = "daemon"
	// Systemd is microvm@NAME.service (`microvm systemd install`),
	// reached over D-Bus.
	Systemd Kind = "systemd"
	// None is nobody: the VM runs, if at all, under a `microvm run`
	// of its own.
	None Kind = "none"
)

// Manager starts, stops and reports the VMs of one supervisor.
type Manager interface {
	Kind() Kind
	// Start starts the VM and keeps it running; it returns once the
	// supervisor says it runs, or why it does not.
	Start(ctx context.Context, name string) error
	// Stop stops the VM gracefully and keeps it stopped; given are the
	// stop ladder's times the caller chose (zero ones: the VM's own),
	// where the supervisor takes them (the daemon; systemd's unit has
	// its TimeoutStopSec=). The result says how it ended when the
	// supervisor knows ("" otherwise); ErrNotRunning when there was
	// nothing to stop.
	Stop(ctx context.Context, name string, given supervisor.Ladder) (string, error)
	// Restart stops the VM if it runs and starts its current runner.
	Restart(ctx context.Context, name string) error
	// Logs writes the VM's log (its console, under systemd the journal
	// of its units) to w, following it with o.Follow until ctx ends.
	Logs(ctx context.Context, name string, o LogOptions, w io.Writer) error
}

// Status is one VM's state with who manages it (status --json).
type Status struct {
	supervisor.Status
	ManagedBy Kind `json:"managedBy"`
}

// LogOptions select what Logs shows.
type LogOptions struct {
	Lines  int  // the last Lines lines; 0: all there is
	Follow bool // then keep following until the context ends
}

// ErrNotRunning is Stop's answer for a VM that was not running.
var ErrNotRunning = errors.New("not running")

// ErrUnmanaged is the None manager's answer to Stop: nothing supervises
// the VM, so the caller stops the process that runs it by itself.
var ErrUnmanaged = errors.New("no daemon or systemd manages it")
