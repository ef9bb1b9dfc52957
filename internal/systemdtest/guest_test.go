package systemdtest_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/guest"
)

// guestSpec is the demo guest with a tap and a virtiofs share: qemu
// under TCG (the container has no /dev/kvm), the real virtiofsd.
const guestSpec = `mem = 256
kernel = "KERNEL"
initrd = "initrd.img"
kernelParams = ["microvm.share=data:/mnt:virtiofs"]

[[interfaces]]
type = "tap"
id = "vm-guest"
mac = "02:00:00:00:00:01"

[[shares]]
proto = "virtiofs"
tag = "data"
source = "data"
mountPoint = "/mnt"
`

// TestGuest boots the project's demo guest under systemd: qemu as the VM
// user, with its tap and its virtiofsd set up by the helper units, and
// stops it with microvm stop, which goes through microvm@'s ExecStop
// (the runner's microvm-shutdown: QMP Ctrl-Alt-Del, then wait), so the
// guest powers off by itself.
func TestGuest(t *testing.T) {
	c := boot(t)
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("needs qemu-system-x86_64 (scripts/install-deps.sh)")
	}
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		t.Skip("needs busybox-static (scripts/install-deps.sh)")
	}
	kernel, _, err := guest.DefaultKernel()
	if err != nil {
		t.Skipf("needs a kernel with modules in /boot: %v", err)
	}
	// Not in /root: qemu runs as the VM user and reads the initrd.
	work := "/srv/guest"
	if err := c.WriteFile(work+"/guest.toml", []byte(strings.Replace(guestSpec, "KERNEL", kernel, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, c, "microvm", "guest", "initramfs", "-o", work+"/initrd.img")
	v := &vm{t: t, c: c, name: "guest"}
	t.Cleanup(func() {
		try(c, "systemctl", "stop", v.unit())
		try(c, "microvm", "remove", "--force", "guest")
		try(c, "rm", "-rf", work)
	})
	run(t, c, "microvm", "create", "guest", "--kvm", "off", "-f", work+"/guest.toml")

	start := time.Now()
	v.microvm("start", "guest")
	v.waitConsole("^microvm-guest: ready$", 3*time.Minute)
	t.Logf("the guest was ready %.1f s after microvm start", time.Since(start).Seconds())
	console := v.console()
	if !strings.Contains(console, "microvm-guest: mounted data at /mnt") {
		t.Errorf("the guest did not mount its virtiofs share:\n%s", console)
	}
	if out := run(t, c, "ip", "-details", "link", "show", "vm-guest"); !strings.Contains(out, "user microvm") {
		t.Errorf("the guest's tap is not the VM user's:\n%s", out)
	}
	p := show(t, c, v.unit(), "MainPID")
	if user := strings.TrimSpace(run(t, c, "ps", "-o", "user=", "-p", p["MainPID"])); user != "microvm" {
		t.Errorf("the hypervisor (pid %s) runs as %q, want microvm", p["MainPID"], user)
	}
	if out := v.microvm("status", "guest"); !regexp.MustCompile(`(?m)^guest +running +` + p["MainPID"] + ` `).MatchString(out) {
		t.Errorf("status:\n%s", out)
	}

	// microvm metrics without a daemon: the unit's cgroup, the tap, the
	// virtiofsd unit, and qemu's disks asked on its events monitor.
	metrics := run(t, c, "microvm", "metrics")
	for _, want := range []string{
		`microvm_vm_up{hypervisor="qemu",name="guest"} 1`,
		`microvm_vm_cpu_seconds_total{hypervisor="qemu",name="guest"} `,
		`microvm_vm_memory_pss_bytes{hypervisor="qemu",name="guest"} `,
		`microvm_vm_interface_transmit_bytes_total{hypervisor="qemu",interface="vm-guest",name="guest"} `,
		`microvm_vm_virtiofsd_processes{hypervisor="qemu",name="guest"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("microvm metrics lacks %q:\n%s", want, metrics)
		}
	}

	stopStart := time.Now()
	if out := v.microvm("stop", "guest"); out != "Stopped guest (the hypervisor exited with status 0).\n" {
		t.Errorf("stop said %q", out)
	}
	t.Logf("microvm stop took %.1f s", time.Since(stopStart).Seconds())
	if !strings.Contains(v.console(), "microvm-guest: powering off") {
		t.Errorf("the guest did not power off by itself:\n%s", v.console())
	}
	if link(t, c, "vm-guest") || exists(c, v.dir()+"/booted") {
		t.Error("the tap or booted is left behind")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if out, _ := c.Run(ctx, "pgrep", "-a", "-f", "virtiofsd|qemu-system"); strings.TrimSpace(out) != "" {
		t.Errorf("left running: %s", out)
	}
}
