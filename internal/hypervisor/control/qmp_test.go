package control

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

// startQemu runs a qemu without a guest whose QMP socket it returns.
func startQemu(t *testing.T, machine ...string) (string, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 is not on PATH; install qemu-system-x86 to test QMP against a real qemu")
	}
	socket := filepath.Join(t.TempDir(), "qmp.sock")
	args := append(machine, "-nodefaults", "-display", "none", "-qmp", "unix:"+socket+",server,nowait")
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return socket, cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemu %q did not open its QMP socket in 10 s", args)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// quit ends qemu over QMP and checks that the waits see it go.
func quit(t *testing.T, ctx context.Context, socket string, cmd *exec.Cmd) {
	t.Helper()
	q, err := dialQMP(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// Connected second, this waiter is queued behind q, as a shutdown
	// verb would be behind another QMP client.
	closed := make(chan error, 1)
	go func() { closed <- WaitSocketClosed(ctx, socket) }()
	exited := make(chan error, 1)
	go func() { exited <- WaitExit(ctx, cmd.Process.Pid, 0) }()
	if _, err := q.execute(ctx, "quit", nil); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Errorf("WaitSocketClosed after quit: %v", err)
	}
	if err := <-exited; err != nil {
		t.Errorf("WaitExit after quit: %v", err)
	}
}

func TestQMPCtrlAltDelRealQemu(t *testing.T) {
	// The machine the qemu generator emits on x86_64, with its i8042.
	socket, cmd := startQemu(t, "-machine", "microvm,accel=tcg", "-device", "i8042")
	ctx := testContext(t)
	q, err := dialQMP(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.ctrlAltDel(ctx); err != nil {
		t.Errorf("Ctrl+Alt+Del: %v", err)
	}
	q.Close()
	if err := RequestShutdown(ctx, hypervisor.ShutdownQMP, socket, ""); err != nil {
		t.Errorf("RequestShutdown: %v", err)
	}
	// Without a guest, nothing reboots: qemu is still there.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := WaitSocketClosed(short, socket); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitSocketClosed on a running qemu = %v, want a deadline error", err)
	}
	if err := WaitExit(short, cmd.Process.Pid, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitExit on a running qemu = %v, want a deadline error", err)
	}
	quit(t, ctx, socket, cmd)
}

func TestQMPNoKeyboardRealQemu(t *testing.T) {
	socket, cmd := startQemu(t, "-machine", "none")
	ctx := testContext(t)
	q, err := dialQMP(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	var qe *qmpError
	if err := q.ctrlAltDel(ctx); !errors.As(err, &qe) || !strings.Contains(err.Error(), "Input handler not found") {
		t.Errorf("Ctrl+Alt+Del without a keyboard: %v, want qemu's error", err)
	}
	q.Close()
	// RequestShutdown falls back to the ACPI power button.
	if err := RequestShutdown(ctx, hypervisor.ShutdownQMP, socket, ""); err != nil {
		t.Errorf("RequestShutdown: %v", err)
	}
	quit(t, ctx, socket, cmd)
}

func TestQMPBalloonRealQemu(t *testing.T) {
	socket, cmd := startQemu(t, "-machine", "microvm,accel=tcg", "-m", "256", "-device", "virtio-balloon-device")
	ctx := testContext(t)
	// No guest driver takes the memory, so the guest keeps all of it.
	got, err := Balloon(ctx, hypervisor.BalloonQMP, socket, "", 128)
	if err != nil || got != 256 {
		t.Errorf("Balloon(128) = %d, %v; want 256", got, err)
	}
	quit(t, ctx, socket, cmd)
}

// fakeQMP serves one QMP session: for each line of script, it reads a
// command, checks it when want is set, and writes the replies.
func fakeQMP(t *testing.T, script []qmpStep) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "qmp.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(`{"QMP": {"version": {}, "capabilities": ["oob"]}}` + "\n"))
		r := bufio.NewReader(c)
		for _, step := range script {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Errorf("fake QMP: reading command: %v", err)
				return
			}
			if got := strings.TrimSpace(line); step.want != "" && got != step.want {
				t.Errorf("fake QMP got\n%s\nwant\n%s", got, step.want)
			}
			c.Write([]byte(strings.Join(step.replies, "\n") + "\n"))
		}
		io.Copy(io.Discard, r) // hold the session open until the client leaves
	}()
	return socket
}

type qmpStep struct {
	want    string
	replies []string
}

const (
	qmpOK          = `{"return": {}}`
	capabilities   = `{"execute":"qmp_capabilities"}`
	event          = `{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RTC_CHANGE", "data": {"offset": 0}}`
	ctrlAltDelJSON = `{"arguments":{"events":[` +
		`{"data":{"down":true,"key":{"data":"ctrl","type":"qcode"}},"type":"key"},` +
		`{"data":{"down":true,"key":{"data":"alt","type":"qcode"}},"type":"key"},` +
		`{"data":{"down":true,"key":{"data":"delete","type":"qcode"}},"type":"key"}]},` +
		`"execute":"input-send-event"}`
)

func TestQMPErrorReplies(t *testing.T) {
	socket := fakeQMP(t, []qmpStep{
		{capabilities, []string{qmpOK}},
		// Events before the reply are skipped; the message is microvm.nix's.
		{ctrlAltDelJSON, []string{event, `{"error": {"class": "GenericError", "desc": "no keyboard"}}`}},
		{`{"execute":"system_powerdown"}`, []string{`{"error": {"class": "CommandNotFound", "desc": "no button"}}`}},
	})
	err := RequestShutdown(testContext(t), hypervisor.ShutdownQMP, socket, "")
	if err == nil || !strings.Contains(err.Error(), "input-send-event: no keyboard (GenericError)") ||
		!strings.Contains(err.Error(), "system_powerdown: no button (CommandNotFound)") {
		t.Errorf("RequestShutdown = %v, want both QMP errors", err)
	}
}

func TestQMPBalloonFake(t *testing.T) {
	socket := fakeQMP(t, []qmpStep{
		{capabilities, []string{qmpOK}},
		{`{"arguments":{"value":536870912},"execute":"balloon"}`, []string{qmpOK, event}},
		{`{"execute":"query-balloon"}`, []string{`{"return": {"actual": 805306368}}`}},
	})
	got, err := Balloon(testContext(t), hypervisor.BalloonQMP, socket, "", 512)
	if err != nil || got != 768 {
		t.Errorf("Balloon = %d, %v; want 768", got, err)
	}
}

func TestQMPTimeout(t *testing.T) {
	// A QMP server that never answers qmp_capabilities.
	socket := fakeQMP(t, []qmpStep{{capabilities, nil}})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := RequestShutdown(ctx, hypervisor.ShutdownQMP, socket, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RequestShutdown = %v, want a deadline error", err)
	}
}

func TestUnknownMethod(t *testing.T) {
	if err := RequestShutdown(t.Context(), "kvmtool", "x.sock", ""); !errors.Is(err, ErrUnknownMethod) {
		t.Errorf("RequestShutdown(kvmtool) = %v", err)
	}
	if _, err := Balloon(t.Context(), "alioth", "x.sock", "", 1); !errors.Is(err, ErrUnknownMethod) {
		t.Errorf("Balloon(alioth) = %v", err)
	}
}
