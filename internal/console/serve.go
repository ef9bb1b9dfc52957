package console

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// ErrInUse is returned by Listen when another process serves the socket.
var ErrInUse = errors.New("console socket in use")

// client is one attached connection's output queue.
type client struct {
	out chan []byte // closed by whoever removes the client from Relay.clients
}

// Serve accepts clients on ln until ln is closed, then returns nil. Each client
// first gets the last backlogSize bytes of output, then all output from the
// moment it attached; what it sends goes to the pty. Connections outlive Serve:
// they end when the console ends or the client leaves.
func (r *Relay) Serve(ln net.Listener) error {
	r.startPump()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accepting console client: %w", err)
		}
		r.attach(conn)
	}
}

func (r *Relay) attach(conn net.Conn) {
	c := &client{out: make(chan []byte, clientQueue)}
	// Backlog and registration under one lock: the client sees every byte once.
	r.mu.Lock()
	if len(r.backlog) > 0 {
		c.out <- bytes.Clone(r.backlog)
	}
	if r.ended {
		close(c.out)
	} else {
		r.clients[c] = struct{}{}
	}
	r.conns[conn] = struct{}{}
	r.mu.Unlock()
	go r.writeClient(conn, c)
	go r.readClient(conn, c)
}

// writeClient sends queued output until the client is removed, then shuts
// down only the sending side: input the client sent before it left (a
// line and then Ctrl-] in one go) must still reach the pty, so the
// connection is closed by readClient once that input is read.
func (r *Relay) writeClient(conn net.Conn, c *client) {
	for p := range c.out {
		if _, err := conn.Write(p); err != nil {
			r.remove(c)
			break
		}
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		uc.CloseWrite()
	} else {
		conn.Close()
	}
}

// readClient copies the client's input to the pty until the client leaves,
// then closes the connection. It does not use io.Copy: os.File.ReadFrom
// would try splice on the pty.
func (r *Relay) readClient(conn net.Conn, c *client) {
	defer func() {
		conn.Close()
		r.mu.Lock()
		delete(r.conns, conn)
		r.mu.Unlock()
	}()
	buf := make([]byte, chunkSize)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := r.master.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	r.remove(c)
}

func (r *Relay) remove(c *client) {
	r.mu.Lock()
	r.removeLocked(c)
	r.mu.Unlock()
}

func (r *Relay) removeLocked(c *client) {
	if _, ok := r.clients[c]; ok {
		delete(r.clients, c)
		close(c.out)
	}
}

// Listen listens on a unix socket at path with mode 0600. A socket file left
// by a crashed monitor is replaced; a live one gives ErrInUse, and anything
// that is not a socket is refused.
func Listen(path string) (net.Listener, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("console socket %q: refusing to replace a non-socket file", path)
	case err == nil:
		if c, derr := net.DialTimeout("unix", path, time.Second); derr == nil {
			c.Close()
			return nil, fmt.Errorf("console socket %q: %w", path, ErrInUse)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale console socket: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("console socket %q: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on console socket %q: %w", path, err)
	}
	// Between bind and chmod the socket has umask permissions; the VM's 0700
	// state directory is what keeps others out during that window.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("console socket %q: %w", path, err)
	}
	return ln, nil
}
