package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/term"
)

// DetachKey (Ctrl-]) typed by the user ends Attach; it is not forwarded.
const DetachKey = 0x1d

// Attach connects to the console socket and copies in to it and it to out
// until DetachKey is read from in, the console hangs up (both return nil) or
// ctx ends (ctx.Err()). Nothing is written to out after Attach returns. A read
// from in that is blocked when Attach returns stays blocked in a goroutine
// (an io.Reader cannot be interrupted); the CLI exits soon after anyway.
// The caller puts the terminal in raw mode; see RawTerminal.
func Attach(ctx context.Context, socket string, in io.Reader, out io.Writer) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return fmt.Errorf("connecting to console: %w", err)
	}
	defer conn.Close()

	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, conn)
		outDone <- err
	}()
	detached := make(chan struct{})
	go func() {
		if copyInput(conn, in) {
			close(detached)
		}
	}()

	select {
	case err := <-outDone:
		if err != nil {
			return fmt.Errorf("console output: %w", err)
		}
		return nil
	case <-detached:
		err = nil
	case <-ctx.Done():
		err = ctx.Err()
	}
	conn.Close()
	<-outDone // the error is our own close
	return err
}

// copyInput forwards in to conn and reports whether it stopped at DetachKey.
// End of input is not a detach: output keeps flowing until the console ends.
func copyInput(conn net.Conn, in io.Reader) (detached bool) {
	buf := make([]byte, 1024)
	for {
		n, err := in.Read(buf)
		p := buf[:n]
		i := bytes.IndexByte(p, DetachKey)
		if i >= 0 {
			p = p[:i]
		}
		if len(p) > 0 {
			if _, werr := conn.Write(p); werr != nil {
				return false
			}
		}
		if i >= 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// RawTerminal puts f in raw mode if it is a terminal, so keys such as Ctrl-C
// and DetachKey reach the console as bytes. restore undoes it; for anything
// but a terminal both are no-ops.
func RawTerminal(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return func() {}, nil
	}
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, fmt.Errorf("making %s raw: %w", f.Name(), err)
	}
	return func() { _ = term.Restore(fd, state) }, nil
}
