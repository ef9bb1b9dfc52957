package guest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
)

func TestBootReady(t *testing.T) {
	h := needBoot(t)
	m := h.boot(t, "")
	t.Logf("boot to ready: %v", waitReady(t, m))
}

// TestBootCtrlAltDel sends what microvm.nix's qemu shutdown script sends and
// expects qemu to exit on its own.
func TestBootCtrlAltDel(t *testing.T) {
	h := needBoot(t)
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	m := h.boot(t, "", qmpArgs(sock)...)
	waitReady(t, m)
	start := time.Now()
	qmp(t, sock, ctrlAltDel)
	waitExit(t, m)
	t.Logf("ctrl+alt+del to exit: %v", time.Since(start))
}

// TestBootPowerButton presses the ACPI power button, what cloud-hypervisor
// and crosvm send, through qemu's system_powerdown.
func TestBootPowerButton(t *testing.T) {
	h := needBoot(t)
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	m := h.boot(t, "", qmpArgs(sock)...)
	waitReady(t, m)
	start := time.Now()
	qmp(t, sock, `{"execute":"system_powerdown"}`)
	waitExit(t, m)
	t.Logf("power button to exit: %v", time.Since(start))
}

// TestBootCtrlAltDelIgnored plays a guest whose Ctrl+Alt+Del is lost or
// masked: it stays up, and powers off on the ACPI power button, which is
// what a stop re-sends; qemu says it was a power-off.
func TestBootCtrlAltDelIgnored(t *testing.T) {
	h := needBoot(t)
	dir := t.TempDir()
	sock, events := filepath.Join(dir, "qmp.sock"), filepath.Join(dir, "events.sock")
	m := h.boot(t, "microvm.test-cad=ignore", append(qmpArgs(sock), eventsArgs(events)...)...)
	ending := watchEvents(t, events)
	waitReady(t, m)
	qmp(t, sock, ctrlAltDel)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := m.waitFor(ctx, IgnoringCADLine); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.exited:
		t.Fatal("qemu exited after an ignored Ctrl+Alt+Del")
	default:
	}
	qmp(t, sock, `{"execute":"system_powerdown"}`)
	waitExit(t, m)
	if !strings.Contains(m.console(), PowerButtonLine) {
		t.Errorf("console lacks %q", PowerButtonLine)
	}
	if end := <-ending; end != (control.Ending{Why: control.EndPowerOff, Detail: "guest-shutdown"}) {
		t.Errorf("qemu said %+v; want a guest power-off", end)
	}
}

// TestBootCtrlAltDelReboot plays a systemd guest, which reboots on
// Ctrl+Alt+Del: qemu (-no-reboot) exits with status 0 as for a power-off,
// and only its SHUTDOWN event tells the two apart.
func TestBootCtrlAltDelReboot(t *testing.T) {
	h := needBoot(t)
	dir := t.TempDir()
	sock, events := filepath.Join(dir, "qmp.sock"), filepath.Join(dir, "events.sock")
	m := h.boot(t, "microvm.test-cad=reboot", append(qmpArgs(sock), eventsArgs(events)...)...)
	ending := watchEvents(t, events)
	waitReady(t, m)
	qmp(t, sock, ctrlAltDel)
	select {
	case <-m.exited:
	case <-time.After(shutdownTimeout):
		t.Fatalf("qemu still running %v after Ctrl+Alt+Del", shutdownTimeout)
	}
	if err := m.wait(); err != nil {
		t.Fatalf("qemu did not exit cleanly: %v", err)
	}
	if !strings.Contains(m.console(), RebootingLine) {
		t.Errorf("console lacks %q", RebootingLine)
	}
	if end := <-ending; end != (control.Ending{Why: control.EndReboot, Detail: "guest-reset"}) {
		t.Errorf("qemu said %+v; want a guest reboot", end)
	}
}

// TestBootVolume formats a volume on the host, and checks that what the
// first boot wrote is still there on the second.
func TestBootVolume(t *testing.T) {
	h := needBoot(t)
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Skipf("volume test needs mkfs.ext4 (apt-get install e2fsprogs): %v", err)
	}
	img := filepath.Join(t.TempDir(), "data.img")
	if out, err := exec.Command(mkfs, "-q", "-F", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", mkfs, err, out)
	}
	// Boot twice: what the first boot wrote must still be there.
	for boot := 1; boot <= 2; boot++ {
		sock := filepath.Join(t.TempDir(), "qmp.sock")
		m := h.boot(t, "microvm.volume=/dev/vda:/data:ext4 microvm.test-write=/data/boots",
			append(qmpArgs(sock),
				"-drive", "id=vda,format=raw,file="+img+",if=none",
				"-device", "virtio-blk-device,drive=vda")...)
		waitReady(t, m)
		for _, want := range []string{"microvm-guest: mounted /dev/vda at /data", fmt.Sprintf("microvm-guest: boots=%d", boot)} {
			if !strings.Contains(m.console(), want) {
				t.Errorf("boot %d: console lacks %q", boot, want)
			}
		}
		qmp(t, sock, ctrlAltDel)
		waitExit(t, m)
		// A clean shutdown unmounts: the journal needs no recovery.
		out, err := exec.Command("dumpe2fs", "-h", img).CombinedOutput()
		if err != nil {
			t.Fatalf("dumpe2fs: %v: %s", err, out)
		}
		if strings.Contains(string(out), "needs_recovery") {
			t.Errorf("boot %d: volume not unmounted cleanly:\n%s", boot, out)
		}
	}
}

// TestBoot9pShare checks that a guest write shows up on the host.
func TestBoot9pShare(t *testing.T) {
	// Debian's cloud kernel is built without CONFIG_NET_9P.
	h := needBoot(t, "9p", "9pnet_virtio")
	dir := t.TempDir()
	m := h.boot(t, "microvm.share=shared:/shared:9p microvm.test-write=/shared/boots",
		"-fsdev", "local,id=fs0,path="+dir+",security_model=none",
		"-device", "virtio-9p-device,fsdev=fs0,mount_tag=shared")
	waitReady(t, m)
	got, err := os.ReadFile(filepath.Join(dir, "boots"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "boot\n" {
		t.Errorf("guest wrote %q, want %q", got, "boot\n")
	}
}

// TestBootNetwork checks that a virtio-net interface comes up as eth0 and
// gets the address from microvm.ip.
func TestBootNetwork(t *testing.T) {
	h := needBoot(t)
	m := h.boot(t, "microvm.ip=eth0:10.0.2.15/24",
		"-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0")
	waitReady(t, m)
	if want := "microvm-guest: address 10.0.2.15/24 on eth0"; !strings.Contains(m.console(), want) {
		t.Errorf("console lacks %q", want)
	}
}

// TestBootDHCP: with microvm.dhcp the guest asks for its address; qemu's
// user networking answers with 10.0.2.15 (the managed network's own DHCP
// is booted against in the CLI's boot_network script).
func TestBootDHCP(t *testing.T) {
	h := needBoot(t)
	m := h.boot(t, "microvm.dhcp=eth0",
		"-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0")
	waitReady(t, m)
	if want := "microvm-guest: address 10.0.2.15/24 on eth0"; !strings.Contains(m.console(), want) {
		t.Errorf("console lacks %q:\n%s", want, m.console())
	}
}
