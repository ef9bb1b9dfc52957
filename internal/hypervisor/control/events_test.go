package control

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchQMPRealQemu: qemu's SHUTDOWN event on a second monitor, as the
// qemu generator adds it, while the control socket stays free for
// others. A reset under -no-reboot ends qemu like a guest's reboot, but
// as the host's; boot tests (internal/guest) see the guest's reasons.
func TestWatchQMPRealQemu(t *testing.T) {
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 is not on PATH; install qemu-system-x86 to test QMP against a real qemu")
	}
	for _, tc := range []struct {
		command string
		want    Ending
	}{
		{"system_reset", Ending{EndHost, "host-qmp-system-reset"}},
		{"quit", Ending{EndHost, "host-qmp-quit"}},
	} {
		t.Run(tc.command, func(t *testing.T) {
			dir := t.TempDir()
			ctl, events := filepath.Join(dir, "qmp.sock"), filepath.Join(dir, "events.sock")
			cmd := exec.Command(bin, "-machine", "none", "-nodefaults", "-display", "none", "-no-reboot",
				"-qmp", "unix:"+ctl+",server,nowait",
				"-chardev", "socket,id=events,path="+events+",server=on,wait=off", "-mon", "chardev=events,mode=control")
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			exited := make(chan struct{})
			go func() { waitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			conn := dialRetry(t, events)
			defer conn.Close()
			ctx := testContext(t)
			ending := make(chan Ending, 1)
			go func() {
				end, err := WatchQMP(ctx, conn)
				if err != nil {
					t.Errorf("WatchQMP: %v", err)
				}
				ending <- end
			}()
			// The control socket is free: a shutdown request could come.
			q, err := dialQMP(ctx, ctl)
			if err != nil {
				t.Fatal(err)
			}
			// Give the watcher time to negotiate before qemu ends.
			time.Sleep(200 * time.Millisecond)
			q.execute(ctx, tc.command, nil) // quit may close before replying
			q.Close()
			if got := <-ending; got != tc.want {
				t.Errorf("ending %+v; want %+v", got, tc.want)
			}
			<-exited
			if waitErr != nil {
				t.Errorf("qemu: %v", waitErr)
			}
		})
	}
}

func dialRetry(t *testing.T, socket string) net.Conn {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", socket); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not open in 10 s", socket)
		}
	}
}

// TestWatchQMPFake: the guest's reasons, events of other shapes, and a
// monitor that says nothing or too much.
func TestWatchQMPFake(t *testing.T) {
	shutdown := func(guest bool, reason string) string {
		g := "false"
		if guest {
			g = "true"
		}
		return `{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": ` + g + `, "reason": "` + reason + `"}}`
	}
	for _, tc := range []struct {
		name   string
		events []string
		want   Ending
		err    string
	}{
		{"poweroff", []string{event, shutdown(true, "guest-shutdown")}, Ending{EndPowerOff, "guest-shutdown"}, ""},
		{"reboot", []string{shutdown(true, "guest-reset")}, Ending{EndReboot, "guest-reset"}, ""},
		{"panic", []string{shutdown(true, "guest-panic")}, Ending{EndPanic, "guest-panic"}, ""},
		{"newer guest cause", []string{shutdown(true, "guest-nap")}, Ending{EndPowerOff, "guest-nap"}, ""},
		{"signal", []string{shutdown(false, "host-signal")}, Ending{EndHost, "host-signal"}, ""},
		{"the last one counts", []string{shutdown(false, "host-signal"), shutdown(true, "guest-reset")}, Ending{EndReboot, "guest-reset"}, ""},
		{"other data shapes", []string{`{"event": "BLOCK_IO_ERROR", "data": {"reason": {"x": 1}, "guest": "yes"}}`, shutdown(true, "guest-reset")}, Ending{EndReboot, "guest-reset"}, ""},
		{"nothing", nil, Ending{}, ""},
		{"too long", []string{`{"event": "X", "data": "` + strings.Repeat("a", maxQMPLine) + `"}`}, Ending{}, "token too long"},
		{"not JSON", []string{"hello"}, Ending{}, "reading QMP: invalid character"},
		{"bad shutdown", []string{`{"event": "SHUTDOWN", "data": {"guest": "yes"}}`}, Ending{}, "reading QMP SHUTDOWN event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := fakeEvents(t, tc.events)
			defer conn.Close()
			got, err := WatchQMP(testContext(t), conn)
			if got != tc.want {
				t.Errorf("ending %+v; want %+v", got, tc.want)
			}
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v; want %q", err, tc.err)
			}
		})
	}
}

// fakeEvents is a QMP monitor that greets, takes qmp_capabilities, sends
// events and closes, as qemu does when it exits; it returns the client's
// end.
func fakeEvents(t *testing.T, events []string) net.Conn {
	t.Helper()
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		server.Write([]byte(`{"QMP": {"version": {}, "capabilities": ["oob"]}}` + "\r\n"))
		line, err := bufio.NewReader(server).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != capabilities {
			t.Errorf("fake events: got %q, %v; want qmp_capabilities", line, err)
			return
		}
		for _, e := range append([]string{qmpOK}, events...) {
			if _, err := server.Write([]byte(e + "\r\n")); err != nil {
				return // the watcher gave up (too long)
			}
		}
	}()
	return client
}
