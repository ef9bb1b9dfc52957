package console

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuf is a log or terminal that tests read while the relay writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, s *syncBuf, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(s.String(), want) {
			return
		}
	}
	t.Fatalf("%s: timed out waiting for %q; have %q", what, want, s.String())
}

func waitErr(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: timed out", what)
		return nil
	}
}

// startRelay runs script under a relay that logs and serves a real socket.
func startRelay(t *testing.T, script string) (*exec.Cmd, string, *syncBuf) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	r, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuf{}
	r.CopyTo(log)
	sock := filepath.Join(t.TempDir(), "console.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	t.Cleanup(func() {
		// The whole session: a grandchild holding the slave would delay Close.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		ln.Close()
		if err := waitErr(t, "Serve", served); err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return cmd, sock, log
}

// attach runs Attach with a pipe as the keyboard.
func attach(t *testing.T, sock string) (keys *io.PipeWriter, screen *syncBuf, done <-chan error) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	screen = &syncBuf{}
	ch := make(chan error, 1)
	go func() { ch <- Attach(t.Context(), sock, pr, screen) }()
	return pw, screen, ch
}

func TestTwoClientsSeeBacklogAndOutput(t *testing.T) {
	cmd, sock, log := startRelay(t, `echo ready; read line; echo "got:$line"; sleep 0.2`)
	waitFor(t, "log", log, "ready")
	keysA, screenA, doneA := attach(t, sock)
	_, screenB, doneB := attach(t, sock)
	// Seeing the backlog means the relay has registered the client.
	waitFor(t, "client A backlog", screenA, "ready")
	waitFor(t, "client B backlog", screenB, "ready")

	if _, err := keysA.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "client A", screenA, "got:hello")
	waitFor(t, "client B", screenB, "got:hello")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	// The console hanging up ends both sessions cleanly.
	for name, done := range map[string]<-chan error{"A": doneA, "B": doneB} {
		if err := waitErr(t, "Attach "+name, done); err != nil {
			t.Errorf("Attach %s: %v", name, err)
		}
	}
	waitFor(t, "log", log, "ready\ngot:hello\n")
}

func TestDetachKeepsVMRunning(t *testing.T) {
	cmd, sock, log := startRelay(t, `echo ready; read line; echo "got:$line"; sleep 30`)
	keys, screen, done := attach(t, sock)
	waitFor(t, "client", screen, "ready")
	if _, err := keys.Write([]byte{DetachKey}); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, "Attach", done); err != nil {
		t.Fatalf("Attach after detach: %v", err)
	}
	if cmd.ProcessState != nil {
		t.Fatal("child exited on detach")
	}

	// The console still works for the next client; the detach key never reached it.
	keys2, screen2, _ := attach(t, sock)
	waitFor(t, "second client", screen2, "ready")
	keys2.Write([]byte("after\n"))
	waitFor(t, "log", log, "ready\ngot:after\n")
}

func TestStalledClientDoesNotBlockLog(t *testing.T) {
	const gen = `head -c 1048576 /dev/zero | base64`
	want, err := exec.Command("sh", "-c", gen).Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "read go; "+gen)
	r, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuf{}
	r.CopyTo(log)
	sock := filepath.Join(t.TempDir(), "console.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go r.Serve(ln)

	// The stalled client starts the output and never reads any of it.
	stalled, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write([]byte("go\n"))

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitErr(t, "child", exited); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); got != string(want) {
		t.Fatalf("log has %d bytes, want %d", len(got), len(want))
	}
}

func TestAttachEndsWithContext(t *testing.T) {
	_, sock, _ := startRelay(t, `sleep 30`)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Attach(ctx, sock, strings.NewReader(""), io.Discard) }()
	cancel()
	if err := waitErr(t, "Attach", done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Attach = %v, want context.Canceled", err)
	}
}

// TestOutputNotTranslated: the log gets the console's bytes as they were
// written, even when the hypervisor turns output processing back on (qemu's
// stdio chardev sets OPOST); before, each "\r\n" became "\r\r\n".
func TestOutputNotTranslated(t *testing.T) {
	for _, script := range []string{`printf 'a\r\nb\n'`, `stty opost; printf 'a\r\nb\n'`} {
		cmd := exec.Command("sh", "-c", script)
		r, err := Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		log := &syncBuf{}
		r.CopyTo(log)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := log.String(), "a\r\nb\n"; got != want {
			t.Errorf("%s: log has %q, want %q", script, got, want)
		}
	}
}
