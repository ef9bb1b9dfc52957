package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/console"
	"github.com/microvm-host/microvm/internal/logfile"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// Console log rotation: 10 MiB per file, 3 old files.
const (
	logMaxSize = 10 << 20
	logKeep    = 3
)

// monitor gives a hypervisor a pty instead of the terminal: its output
// goes to a rotated log, and clients attach on a unix socket.
type monitor struct {
	log, socket string
	ensure      func() error // creates the log's directory
	// last keeps the end of this run's console, for the exit record.
	last *logfile.Last
}

// start starts cmd on a pty and serves its console; stop undoes it after
// cmd exited.
func (m *monitor) start(cmd *exec.Cmd) (stop func(), err error) {
	if err := m.ensure(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(m.socket), 0o700); err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	lw, err := logfile.Open(m.log, logMaxSize, logKeep)
	if err != nil {
		return nil, fmt.Errorf("console log: %w", err)
	}
	ln, err := console.Listen(m.socket)
	if err != nil {
		lw.Close()
		return nil, fmt.Errorf("console socket: %w", err)
	}
	relay, err := console.Start(cmd)
	if err != nil {
		ln.Close()
		lw.Close()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	m.last = logfile.NewLast(supervisor.TailBytes)
	relay.CopyTo(io.MultiWriter(m.last, lw))
	served := make(chan error, 1)
	go func() { served <- relay.Serve(ln) }()
	return func() {
		ln.Close()
		<-served
		relay.Close()
		lw.Close()
		if err := os.Remove(m.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "microvm: %v\n", err)
		}
	}, nil
}

// tail is the last lines of this run's console; nil before start.
func (m *monitor) tail() []string {
	if m.last == nil {
		return nil
	}
	return m.last.Lines(supervisor.TailLines)
}
