// Package console relays a VM's serial console. The per-VM monitor starts the
// hypervisor with a pty slave as its stdio, keeps the master, copies all output
// to a log and to any clients attached over a unix socket, and feeds their
// input back to the hypervisor.
package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

const (
	backlogSize = 16 << 10 // replayed to a new client so it sees the current prompt
	chunkSize   = 4 << 10  // a pty read rarely returns more than this
	clientQueue = 64       // chunks queued per client (≤ 256 KiB) before its output is dropped
	closeGrace  = 2 * time.Second
)

// Relay owns the pty master of one console and fans its output out to a log
// and to attached clients.
type Relay struct {
	master    *os.File
	pumpOnce  sync.Once
	pumpEnded chan struct{} // closed once the master returned EOF (or was closed)

	mu      sync.Mutex
	log     io.Writer
	logErr  error
	backlog []byte
	clients map[*client]struct{}  // receiving output
	conns   map[net.Conn]struct{} // all open client connections, for Close
	ended   bool                  // no more output will come
}

// Start starts cmd with a new pty slave as its stdin, stdout and stderr, in a
// new session with the slave as controlling terminal, and returns the relay
// holding the master. cmd's stdio must be unset.
func Start(cmd *exec.Cmd) (*Relay, error) {
	if cmd.Stdin != nil || cmd.Stdout != nil || cmd.Stderr != nil {
		return nil, fmt.Errorf("starting %q on a console: stdio already set", cmd.Path)
	}
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("opening pty: %w", err)
	}
	// The child has its own copies; ours would keep the master from ever
	// reading EOF after the child exits.
	defer slave.Close()
	// Raw mode: the guest runs its own line discipline, so the host pty must
	// pass bytes through untouched. Cooked mode would echo input a second time
	// and turn a client's Ctrl-C into SIGINT for the hypervisor.
	if err := makeRaw(slave); err != nil {
		master.Close()
		return nil, fmt.Errorf("making pty %q raw: %w", slave.Name(), err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0        // the child's stdin, i.e. the slave
	cmd.SysProcAttr.Setpgid = false // setpgid after setsid fails with EPERM; setsid already gives a new group
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, fmt.Errorf("starting %q: %w", cmd.Path, err)
	}
	return &Relay{
		master:    master,
		pumpEnded: make(chan struct{}),
		clients:   map[*client]struct{}{},
		conns:     map[net.Conn]struct{}{},
	}, nil
}

// CopyTo makes all output also go to log. Call it before Serve: reading the
// master starts with CopyTo or Serve, so output written before then waits in
// the pty instead of being lost. A write error stops logging and is returned by
// Close; a slow log slows the console (it is the record, clients are not).
func (r *Relay) CopyTo(log io.Writer) {
	r.mu.Lock()
	r.log = log
	r.mu.Unlock()
	r.startPump()
}

// Close closes the master after the process exited. It first gives the reader
// a moment to drain what the process wrote last; closing the master is what
// unblocks the reader if a stray process still holds the slave, since pty reads
// ignore deadlines. Clients get a moment to receive their queued output.
func (r *Relay) Close() error {
	r.startPump()
	select {
	case <-r.pumpEnded:
	case <-time.After(closeGrace):
	}
	err := r.master.Close()
	<-r.pumpEnded
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		// A stalled client would keep its writer blocked forever, and
		// one that never hangs up its reader.
		c.SetWriteDeadline(time.Now().Add(closeGrace))
		c.SetReadDeadline(time.Now().Add(closeGrace))
	}
	return errors.Join(r.logErr, err)
}

func (r *Relay) startPump() { r.pumpOnce.Do(func() { go r.pump() }) }

func (r *Relay) pump() {
	defer close(r.pumpEnded)
	buf := make([]byte, chunkSize)
	for {
		n, err := r.master.Read(buf)
		if n > 0 {
			r.broadcast(bytes.Clone(buf[:n]))
		}
		if err != nil {
			// EIO once no process holds the slave is Linux's EOF; any other
			// error (the master closed by Close) ends the console just the same.
			break
		}
	}
	r.mu.Lock()
	r.ended = true
	for c := range r.clients {
		r.removeLocked(c)
	}
	r.mu.Unlock()
}

// broadcast records p in the backlog, queues it for every client without
// blocking, and writes it to the log. p is shared and must not be modified.
func (r *Relay) broadcast(p []byte) {
	r.mu.Lock()
	r.backlog = append(r.backlog, p...)
	if over := len(r.backlog) - backlogSize; over > 0 {
		r.backlog = append(r.backlog[:0], r.backlog[over:]...)
	}
	for c := range r.clients {
		select {
		case c.out <- p:
		default: // a slow client loses output rather than stalling the VM
		}
	}
	log := r.log
	r.mu.Unlock()
	if log == nil {
		return
	}
	if _, err := log.Write(p); err != nil {
		r.mu.Lock()
		r.log, r.logErr = nil, fmt.Errorf("writing console log: %w", err)
		r.mu.Unlock()
	}
}

// makeRaw puts the pty slave in raw mode and also clears the output
// translations that raw mode only disables through OPOST. A hypervisor may
// turn OPOST back on for its stdio console (qemu's char-stdio does, to keep
// its own messages readable); with ONLCR still set, every "\r\n" of the
// guest's serial line then reached the log as "\r\r\n".
func makeRaw(slave *os.File) error {
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		return err
	}
	t, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	t.Oflag &^= unix.ONLCR | unix.OCRNL | unix.ONOCR | unix.ONLRET | unix.OLCUC | unix.OFILL | unix.OFDEL | unix.TABDLY
	return unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, t)
}
