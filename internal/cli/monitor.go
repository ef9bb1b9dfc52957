package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/console"
	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/logfile"
	"github.com/microvm-host/microvm/internal/metrics"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/supervisor"
	"github.com/microvm-host/microvm/internal/trust"
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

// How long watchEnding looks for the events socket after the hypervisor
// started (qemu creates it before the guest runs; a runner made before
// there was one never will), and how long it waits for the last events
// once the hypervisor exited (qemu closes the socket as it exits).
const (
	eventsAppear  = 60 * time.Second
	eventsLinger  = 2 * time.Second
	eventsPollGap = 100 * time.Millisecond
)

// endingWatch learns why a hypervisor ends, where it tells (see
// control.Ending): generated qemu runners open a second QMP monitor for
// it (qemu.EventsSocket), which `microvm run` holds for the whole run;
// crosvm says it in its exit status. The monitor records it in the exit
// record, so that the daemon restarts a guest that rebooted and leaves
// one that powered off.
type endingWatch struct {
	hv     string
	done   chan struct{}
	exited chan struct{}
	end    control.Ending
}

// watchEnding starts watching the hypervisor that r runs in vmDir; owner
// is the uid it runs as (the events socket is its). While it holds the
// events monitor it serves qemu's statistics on the socket stats (see
// metrics.StatsSocket; "" serves none).
func watchEnding(vmDir string, r *runner.Runner, owner int, stats string, warn func(string, ...any)) *endingWatch {
	w := &endingWatch{done: make(chan struct{}), exited: make(chan struct{})}
	if r.Meta != nil {
		w.hv = r.Meta.Hypervisor
	}
	if w.hv != "qemu" {
		close(w.done)
		return w
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-w.exited
		time.AfterFunc(eventsLinger, cancel)
	}()
	go func() {
		defer close(w.done)
		defer cancel()
		conn, err := dialEvents(ctx, filepath.Join(vmDir, qemu.EventsSocket), owner, w.exited)
		if err != nil {
			if !errors.Is(err, errNoEvents) {
				warn("microvm: not watching why the hypervisor ends: %v\n", err)
			}
			return
		}
		defer conn.Close()
		watch := control.NewQMPWatch(conn)
		if stats != "" {
			stop, err := metrics.ServeStats(stats, watch)
			if err != nil {
				warn("microvm: not serving the hypervisor's statistics: %v\n", err)
			} else {
				defer stop()
			}
		}
		end, err := watch.Run(ctx)
		if err != nil {
			warn("microvm: watching why the hypervisor ends: %v\n", err)
		}
		w.end = end
	}()
	return w
}

// errNoEvents: the hypervisor ended, or never opened the socket.
var errNoEvents = errors.New("no events socket")

// dialEvents connects to the events socket once the hypervisor created
// it, as the VM user's (trust.DialSocket): the monitor is root, and the
// socket is in the VM directory, which the VM user can write.
func dialEvents(ctx context.Context, path string, owner int, exited <-chan struct{}) (net.Conn, error) {
	giveUp := time.After(eventsAppear)
	for {
		conn, err := trust.DialSocket(path, owner)
		switch {
		case err == nil:
			return conn, nil
		// Not there yet, or a stale one from an earlier run that qemu
		// has not replaced yet.
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ECONNREFUSED):
			return nil, err
		}
		select {
		case <-exited:
			return nil, errNoEvents
		case <-giveUp:
			return nil, errNoEvents
		case <-ctx.Done():
			return nil, errNoEvents
		case <-time.After(eventsPollGap):
		}
	}
}

// ending says why the hypervisor ended, which exited with status code;
// call it once, after it exited.
func (w *endingWatch) ending(code int) control.Ending {
	close(w.exited)
	<-w.done
	if w.end.Why != "" {
		return w.end
	}
	return control.EndingOfExit(w.hv, code)
}
