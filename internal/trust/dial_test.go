package trust

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDialSocket(t *testing.T) {
	requireRoot(t)
	d := vmDir(t)
	// The VM user's hypervisor bound it: the monitor may connect.
	sock := filepath.Join(d, "events.sock")
	ln, err := net.Listen("unix", sock)
	must(t, err)
	defer ln.Close()
	must(t, os.Chown(sock, 65534, 65534))
	conn, err := DialSocket(sock, 65534)
	must(t, err)
	conn.Close()
	if _, err := DialSocket(sock); err == nil {
		t.Fatal("connected to a socket of a uid not named")
	}

	// The name is a link to another service's socket: never followed.
	other := filepath.Join(t.TempDir(), "daemon.sock")
	oln, err := net.Listen("unix", other)
	must(t, err)
	defer oln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := oln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	link := filepath.Join(d, "link.sock")
	must(t, os.Symlink(other, link))
	_, err = DialSocket(link, 65534)
	wantUntrusted(t, err, "is a symlink")
	// A hard link to it (made by root here; the VM user cannot link what
	// it does not own) has two links.
	hard := filepath.Join(d, "hard.sock")
	must(t, os.Link(other, hard))
	_, err = DialSocket(hard, 65534, 0)
	wantUntrusted(t, err, "has 2 hard links")
	select {
	case <-accepted:
		t.Fatal("the other socket got a connection")
	case <-time.After(100 * time.Millisecond):
	}

	file := filepath.Join(d, "file.sock")
	must(t, os.WriteFile(file, nil, 0o600))
	_, err = DialSocket(file, 65534)
	wantUntrusted(t, err, "expected a socket")
}
