package virtiofsd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/guest"
)

const qemuVirtiofsd = "/usr/lib/qemu/virtiofsd"

// TestBootVirtiofs shares a directory with a real guest through a fleet
// running qemu's virtiofsd, and checks that what the guest writes shows
// up on the host. TCG only: the nested KVM here hangs stock kernels.
func TestBootVirtiofs(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	if os.Geteuid() != 0 {
		t.Skip("virtiofsd needs root for its namespace sandbox")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skipf("needs qemu-system-x86_64 (apt-get install qemu-system-x86): %v", err)
	}
	if _, err := os.Stat(qemuVirtiofsd); err != nil {
		t.Skipf("needs %s (qemu 7.2's C virtiofsd): %v", qemuVirtiofsd, err)
	}
	kernel, version, err := guest.DefaultKernel()
	if err != nil {
		t.Skipf("needs a kernel with modules: %v", err)
	}
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initrd.gz")
	out, err := os.Create(initrd)
	if err != nil {
		t.Fatal(err)
	}
	if err := guest.BuildInitramfs(out, guest.Options{KernelVersion: version}); err != nil {
		out.Close()
		t.Skipf("building the guest initramfs (needs busybox-static): %v", err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	share := Share{Tag: "shared", Source: filepath.Join(dir, "src"), Socket: filepath.Join(dir, "shared.sock")}
	c := testConfig(t)
	c.Binary = qemuVirtiofsd
	fleet, err := Start(t.Context(), "boot", []Share{share}, c)
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()

	params := strings.Join([]string{guest.KernelParams, guest.TCGKernelParams,
		"microvm.share=shared:/mnt:virtiofs", "microvm.test-write=/mnt/boots"}, " ")
	var console lockedBuffer
	cmd := exec.Command(qemu,
		"-M", "microvm,accel=tcg,acpi=on,pcie=on,pic=off,pit=off,usb=off", "-cpu", "max",
		"-m", "256", "-smp", "1", "-nodefaults", "-no-user-config", "-no-reboot", "-nographic",
		"-chardev", "stdio,id=stdio,signal=off", "-serial", "chardev:stdio",
		// vhost-user needs guest memory the daemon can map.
		"-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
		"-chardev", "socket,id=fs0,path="+share.Socket,
		"-device", "vhost-user-fs-pci,chardev=fs0,tag=shared",
		"-kernel", kernel, "-initrd", initrd, "-append", params)
	cmd.Stdout, cmd.Stderr = &console, &console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for !strings.Contains(console.String(), guest.ReadyLine) {
		if i := strings.Index(console.String(), guest.ErrorPrefix); i >= 0 {
			t.Fatalf("guest failed: %s", console.String()[i:])
		}
		select {
		case err := <-exited:
			t.Fatalf("qemu exited: %v\n%s", err, console.String())
		case <-ctx.Done():
			t.Fatalf("no %q: %v\n%s", guest.ReadyLine, ctx.Err(), console.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("guest ready after %v", time.Since(start))
	if got, err := os.ReadFile(filepath.Join(share.Source, "boots")); err != nil || string(got) != "boot\n" {
		t.Errorf("host sees %q, %v; want the guest's %q", got, err, "boot\n")
	}

	// Power off. virtiofsd serves one connection and exits with it; the
	// fleet restarts it, so the share is ready for the next boot.
	first := fleet.daemons[0].current()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	exited <- nil // for the deferred kill
	for {
		p := fleet.daemons[0].current()
		if p != first {
			if table, err := readListeners(); err == nil && listening(table, share.Socket, p.pid()) {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("virtiofsd not restarted after the VM went away: %v", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := fleet.Stop(); err != nil {
		t.Error(err)
	}
	for _, p := range []string{share.Socket, filepath.Join(qemuPidDir, strings.ReplaceAll(share.Socket, "/", ".")+".pid")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

// lockedBuffer is a console written by qemu's stdout and stderr at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
