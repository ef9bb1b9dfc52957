package guest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
)

// Boot tests run real guests under TCG on slow shared cores: timeouts are
// generous and timings are only logged, never asserted.
const (
	bootTimeout     = 3 * time.Minute
	shutdownTimeout = 30 * time.Second
	qemuBinary      = "qemu-system-x86_64"
)

// envKernelRoot points boot tests at another kernel: ROOT/boot/vmlinuz-V
// with ROOT/lib/modules/V. An unpacked linux-image-amd64 (plus depmod -b)
// has the 9p the cloud kernel lacks.
const envKernelRoot = "MICROVM_TEST_KERNEL_ROOT"

// bootHost is what boot tests need from the host.
type bootHost struct {
	qemu, kernel, modules, initrd string
}

// needBoot skips the test unless qemu, a static busybox and a kernel with
// modules, including the named ones, are installed, then builds the
// initramfs into t.TempDir().
func needBoot(t testing.TB, modules ...string) bootHost {
	t.Helper()
	if testing.Short() {
		t.Skip("boot tests boot real guests; skipped in -short mode")
	}
	qemu, err := exec.LookPath(qemuBinary)
	if err != nil {
		t.Skipf("boot test needs %s (apt-get install qemu-system-x86): %v", qemuBinary, err)
	}
	if _, err := readStatic(DefaultBusybox); err != nil {
		t.Skipf("boot test needs a static busybox (apt-get install busybox-static): %v", err)
	}
	root := os.Getenv(envKernelRoot)
	if root == "" {
		root = "/"
	}
	modulesRoot := filepath.Join(root, "lib/modules")
	kernel, version, err := FindKernel(filepath.Join(root, "boot"), modulesRoot)
	if err != nil {
		t.Skipf("boot test needs a kernel (apt-get install linux-image-cloud-amd64): %v", err)
	}
	h := bootHost{qemu: qemu, kernel: kernel, modules: filepath.Join(modulesRoot, version)}
	for _, m := range modules {
		ok, err := HasModule(h.modules, m)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Skipf("boot test needs module %s, which kernel %s lacks; set %s to a kernel that has it", m, kernel, envKernelRoot)
		}
	}
	h.initrd = filepath.Join(t.TempDir(), "initrd.gz")
	f, err := os.Create(h.initrd)
	if err != nil {
		t.Fatal(err)
	}
	if err := BuildInitramfs(f, Options{ModulesDir: h.modules}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return h
}

// boot starts a TCG guest with extra kernel params and qemu args. It is
// killed at the end of the test, and its console logged if the test failed.
func (h bootHost) boot(t testing.TB, params string, extra ...string) *machine {
	t.Helper()
	m, err := startMachine(h.qemu, bootArgs("tcg", h.kernel, h.initrd, params, extra...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			t.Logf("console:\n%s", m.console())
		}
	})
	return m
}

// waitReady waits for ReadyLine and returns how long the boot took.
func waitReady(t testing.TB, m *machine) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	if err := m.waitFor(ctx, ReadyLine); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// waitExit waits for qemu to exit by itself and fails unless it did so
// cleanly: exit status 0, no signal.
func waitExit(t testing.TB, m *machine) {
	t.Helper()
	select {
	case <-m.exited:
	case <-time.After(shutdownTimeout):
		t.Fatalf("qemu still running %v after the shutdown request", shutdownTimeout)
	}
	if err := m.wait(); err != nil {
		t.Fatalf("qemu did not exit cleanly: %v", err)
	}
	if !strings.Contains(m.console(), PoweringOffLine) {
		t.Errorf("console lacks %q", PoweringOffLine)
	}
}

// qmp runs commands over a fresh QMP connection. It is deliberately tiny:
// the production client lives in internal/hypervisor.
func qmp(t testing.TB, socket string, commands ...string) {
	t.Helper()
	var conn net.Conn
	var err error
	for range 50 { // qemu creates the socket shortly after starting
		if conn, err = net.Dial("unix", socket); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connecting to qmp: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // greeting
		t.Fatalf("reading qmp greeting: %v", err)
	}
	for _, c := range append([]string{`{"execute":"qmp_capabilities"}`}, commands...) {
		if _, err := fmt.Fprintln(conn, c); err != nil {
			t.Fatalf("qmp %s: %v", c, err)
		}
		if err := qmpReply(r); err != nil {
			t.Fatalf("qmp %s: %v", c, err)
		}
	}
}

// qmpReply reads up to the command's reply, skipping asynchronous events.
func qmpReply(r *bufio.Reader) error {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return err
		}
		var msg struct {
			Return json.RawMessage `json:"return"`
			Error  *struct{ Desc string }
		}
		if err := json.Unmarshal(line, &msg); err != nil {
			return fmt.Errorf("%w: %s", err, line)
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Desc)
		}
		if msg.Return != nil {
			return nil
		}
	}
}

// ctrlAltDel is microvm.nix's qemu shutdown request, byte for byte.
const ctrlAltDel = `{"arguments":{"events":[` +
	`{"data":{"down":true,"key":{"data":"ctrl","type":"qcode"}},"type":"key"},` +
	`{"data":{"down":true,"key":{"data":"alt","type":"qcode"}},"type":"key"},` +
	`{"data":{"down":true,"key":{"data":"delete","type":"qcode"}},"type":"key"}]},` +
	`"execute":"input-send-event"}`

func qmpArgs(socket string) []string {
	return []string{"-qmp", "unix:" + socket + ",server,nowait"}
}

// eventsArgs is a second QMP monitor for events, as the qemu generator
// emits it.
func eventsArgs(socket string) []string {
	return []string{"-chardev", "socket,id=events,path=" + socket + ",server=on,wait=off", "-mon", "chardev=events,mode=control"}
}

// watchEvents watches qemu's events on socket until it exits, with the
// production watcher, and sends why it ended.
func watchEvents(t testing.TB, socket string) <-chan control.Ending {
	t.Helper()
	var conn net.Conn
	var err error
	for range 50 { // qemu creates the socket shortly after starting
		if conn, err = net.Dial("unix", socket); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connecting to the events monitor: %v", err)
	}
	ending := make(chan control.Ending, 1)
	go func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
		defer cancel()
		end, err := control.WatchQMP(ctx, conn)
		if err != nil {
			t.Errorf("watching qemu's events: %v", err)
		}
		ending <- end
	}()
	return ending
}
