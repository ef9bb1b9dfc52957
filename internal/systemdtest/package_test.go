package systemdtest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/systemdtest"
)

// packageVersion is what the test's own build stamps in; its Debian
// version is 0.0.0~systemdtest.
const packageVersion = "v0.0.0-systemdtest"

// packageGuestSpec is the demo guest with what a VM keeps between boots:
// a volume it writes to (each boot appends to /data/boots and prints
// boots=N), a virtiofs share and a tap.
const packageGuestSpec = `mem = 256
kernel = "KERNEL"
initrd = "initrd.img"
kernelParams = ["microvm.share=data:/mnt:virtiofs", "microvm.volume=/dev/vda:/data:ext4", "microvm.test-write=/data/boots"]

[[volumes]]
image = "data.img"
size = 32
label = "data"
mountPoint = "/data"

[[interfaces]]
type = "tap"
id = "vm-pkg"
mac = "02:00:00:00:00:02"

[[shares]]
proto = "virtiofs"
tag = "data"
source = "data"
mountPoint = "/mnt"
`

// TestPackage installs microvm the way the README says, from the Debian
// package (apt-get install ./microvm_*.deb) into a container of its own
// (no `microvm systemd install` there: the packaged units are the only
// ones), boots the demo guest through microvm@, removes and purges the
// package while the VM runs, and checks that nothing of the VM was lost:
// it keeps running, its directory, records, volume and share are intact,
// and after reinstalling it is managed again (stopped gracefully, and
// booted once more from the same volume: boots=2). The whole session is
// the transcript ($MICROVM_PACKAGE_TRANSCRIPT).
func TestPackage(t *testing.T) {
	if reason := systemdtest.Unavailable(); reason != "" {
		t.Skip(reason)
	}
	for _, tool := range []string{"qemu-system-x86_64", "apt-get", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (scripts/install-deps.sh)", tool)
		}
	}
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		t.Skip("needs busybox-static (scripts/install-deps.sh)")
	}
	kernel, _, err := guest.DefaultKernel()
	if err != nil {
		t.Skipf("needs a kernel with modules in /boot: %v", err)
	}
	deb, stamped := packageDeb(t)

	c, err := systemdtest.Boot(context.Background(), systemdtest.Options{
		Log: func(format string, args ...any) { t.Logf(format, args...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	tr := newTranscript(t, c)
	tr.note("TestPackage (internal/systemdtest/package_test.go), %s", time.Now().UTC().Format(time.RFC3339))
	tr.note("a fresh systemd-nspawn container over an overlay of the host's root; %s (%d bytes)", filepath.Base(deb), fileSize(t, deb))

	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile("/srv/pkg/"+filepath.Base(deb), data, 0o644); err != nil {
		t.Fatal(err)
	}
	install := aptInstall(t, tr)

	tr.note("install")
	tr.run("sh", "-c", install)
	if out := tr.run("microvm", "--version"); stamped != "" && !strings.HasPrefix(out, "microvm "+stamped+" (") {
		t.Errorf("the packaged microvm says %q, want version %s", out, stamped)
	}
	p := show(t, c, "microvm@pkg.service", "LoadState", "FragmentPath")
	tr.note("microvm@pkg.service: %v", p)
	// /lib is a link to usr/lib on Debian 12: systemd says either.
	if !strings.HasSuffix(p["FragmentPath"], "/lib/systemd/system/microvm@.service") || strings.HasPrefix(p["FragmentPath"], "/etc") || p["LoadState"] != "loaded" {
		t.Errorf("the packaged microvm@ is not what systemd loads: %v", p)
	}
	if out := tr.run("systemctl", "is-enabled", "microvms.target"); strings.TrimSpace(out) != "enabled" {
		t.Errorf("microvms.target is %q after the install, want enabled", out)
	}
	tr.run("stat", "-c", "%n %U:%G %a", "/var/lib/microvms")
	tr.run("id", "microvm")
	tr.run("dpkg", "-L", "microvm")

	tr.note("the demo guest, started through microvm@")
	spec := strings.Replace(packageGuestSpec, "KERNEL", kernel, 1)
	if err := c.WriteFile("/srv/pkgguest/pkg.toml", []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	tr.run("microvm", "guest", "initramfs", "-o", "/srv/pkgguest/initrd.img")
	tr.run("microvm", "create", "pkg", "--kvm", "off", "-f", "/srv/pkgguest/pkg.toml")
	v := &vm{t: t, c: c, name: "pkg"}
	t.Cleanup(func() {
		try(c, "systemctl", "stop", v.unit())
		try(c, "microvm", "remove", "--force", "pkg")
	})
	tr.run("systemctl", "start", v.unit())
	v.waitConsole(`^microvm-guest: ready$`, 3*time.Minute)
	if !strings.Contains(v.console(), "microvm-guest: boots=1") {
		t.Fatalf("the first boot did not write to its volume:\n%s", v.console())
	}
	tr.run("sh", "-c", "journalctl --no-pager --quiet --output=cat _SYSTEMD_UNIT=microvm@pkg.service | grep -E 'microvm-guest: (boots|mounted|ready)'")
	tr.run("sh", "-c", "echo 'written by the host before the package went' > /var/lib/microvms/pkg/data/marker")
	pid := show(t, c, v.unit(), "MainPID")["MainPID"]
	tr.run("microvm", "status", "pkg")
	before := vmState(tr)

	tr.note("remove the package while the VM runs")
	tr.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "microvm")
	checkKept(t, tr, v, pid, before, "after apt-get remove")
	tr.run("test", "-f", "/etc/microvm/host.toml") // a conffile stays until purge
	if _, err := tr.try("test", "-e", "/usr/bin/microvm"); err == nil {
		t.Error("/usr/bin/microvm is still there after the removal")
	}

	tr.note("purge it")
	tr.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "microvm")
	checkKept(t, tr, v, pid, before, "after apt-get purge")
	if _, err := tr.try("test", "-e", "/etc/microvm/host.toml"); err == nil {
		t.Error("purge left the conffile /etc/microvm/host.toml")
	}
	tr.run("id", "microvm")

	tr.note("reinstall: the running VM is managed again")
	tr.run("sh", "-c", install)
	if out := tr.run("microvm", "status", "pkg"); !regexp.MustCompile(`(?m)^pkg +running +` + pid + ` `).MatchString(out) {
		t.Errorf("after the reinstall, status does not show the VM running as %s:\n%s", pid, out)
	}
	if out := tr.run("microvm", "stop", "pkg"); out != "Stopped pkg (the hypervisor exited with status 0).\n" {
		t.Errorf("stop said %q", out)
	}
	if !strings.Contains(v.console(), "microvm-guest: powering off") {
		t.Errorf("the guest did not power off by itself:\n%s", v.console())
	}
	tr.note("boot it again: the volume kept the first boot's write")
	tr.run("systemctl", "start", v.unit())
	v.waitConsole(`^microvm-guest: boots=2$`, 3*time.Minute)
	v.waitConsole(`^microvm-guest: ready$`, time.Minute)
	tr.run("sh", "-c", "journalctl --no-pager --quiet --output=cat _SYSTEMD_UNIT=microvm@pkg.service | grep -E 'microvm-guest: (boots|ready|powering)'")
	tr.run("cat", "/var/lib/microvms/pkg/data/marker")
	tr.run("microvm", "stop", "pkg")
	tr.run("microvm", "list")
	tr.note("done: nothing of the VM was lost")
}

// packageDeb is the package to test: $MICROVM_DEB (from make package), or
// one built here by tools/package, as make package does. It returns the
// package and the version its binary says.
func packageDeb(t *testing.T) (deb, version string) {
	t.Helper()
	if p := os.Getenv("MICROVM_DEB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("MICROVM_DEB: %v", err)
		}
		// Its binary says git describe's version, which the Debian
		// version does not give back exactly: not checked.
		return p, ""
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := t.TempDir()
	cmd := exec.Command(goCmd, "run", ".", "-src", root, "-out", out,
		"-version", packageVersion, "-epoch", "1700000000", "-arch", runtime.GOARCH)
	cmd.Dir = filepath.Join(root, "tools", "package")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the package: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "microvm_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("tools/package made %v, want one .deb", debs)
	}
	return debs[0], packageVersion
}

// aptInstall is the install command of the README, run where the package
// is. The container has no network: the package's Recommends must be
// installed on the host already, or they are left out (and said so).
func aptInstall(t *testing.T, tr *transcript) string {
	t.Helper()
	opts := "-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
	for _, p := range []string{"qemu-system-x86", "qemu-utils", "e2fsprogs"} {
		if out, _ := tr.try("dpkg-query", "-W", "-f=${Package} ${Status}\\n", p); !strings.Contains(out, "install ok installed") {
			tr.note("%s is not installed on this host, and the container has no network: installing without recommends", p)
			opts += " --no-install-recommends"
			break
		}
	}
	return "cd /srv/pkg && DEBIAN_FRONTEND=noninteractive apt-get install " + opts + " ./microvm_*.deb"
}

// vmState is what must survive the package: the VM directory's entries
// (kind, mode, owner, link targets), the share's file, the volume's size.
// Sizes of other files are left out: the volume is in use.
func vmState(tr *transcript) string {
	tr.t.Helper()
	return tr.run("sh", "-c", "cd /var/lib/microvms/pkg && find . -printf '%y %m %u:%g %p %l\\n' | sort && "+
		"stat -c '%n %s bytes' data.img && sha256sum data/marker")
}

// checkKept checks that the VM still runs as pid and its state is before.
func checkKept(t *testing.T, tr *transcript, v *vm, pid, before, when string) {
	t.Helper()
	if now := vmState(tr); now != before {
		t.Errorf("%s the VM's directory changed:\nbefore:\n%s\nnow:\n%s", when, before, now)
	}
	p := show(t, v.c, v.unit(), "ActiveState", "MainPID")
	tr.note("%s: microvm@pkg ActiveState=%s MainPID=%s", when, p["ActiveState"], p["MainPID"])
	if p["ActiveState"] != "active" || p["MainPID"] != pid {
		t.Errorf("%s the VM is %s as %s, want active as %s", when, p["ActiveState"], p["MainPID"], pid)
	}
	tr.run("ps", "-o", "pid,user,comm", "-p", pid)
	if _, err := tr.try("ls", "/var/lib/microvms"); err != nil {
		t.Errorf("%s the state directory is gone", when)
	}
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
