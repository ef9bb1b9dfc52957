package guest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeQEMU writes a script that stands in for qemu: it runs body, after
// appending a line to calls so tests can count the boots.
func fakeQEMU(t *testing.T, body string) (qemu, calls string) {
	t.Helper()
	dir := t.TempDir()
	qemu, calls = filepath.Join(dir, "qemu"), filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho boot >> '" + calls + "'\n" + body + "\n"
	if err := os.WriteFile(qemu, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return qemu, calls
}

func countCalls(t *testing.T, calls string) int {
	t.Helper()
	data, err := os.ReadFile(calls)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

func TestWaitFor(t *testing.T) {
	for _, tc := range []struct {
		name, script, wantErr string
	}{
		{"ready", "echo booting; echo '" + ReadyLine + "'; sleep 30", ""},
		{"guest error", "echo '" + ErrorPrefix + "mounting x'; sleep 30", "guest reported"},
		{"exit", "echo 'qemu-system-x86_64: no kvm' >&2; exit 1", "qemu exited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := startMachine("/bin/sh", []string{"-c", tc.script})
			if err != nil {
				t.Fatal(err)
			}
			defer m.kill()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = m.waitFor(ctx, ReadyLine)
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("waitFor = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestProbeKVMNoQEMU(t *testing.T) {
	if _, err := ProbeKVM(context.Background(), filepath.Join(t.TempDir(), "nosuch"), "k", "i"); err == nil {
		t.Error("ProbeKVM with a missing qemu: no error")
	}
}

// TestCachedKVM checks that a probe runs once per kernel and qemu, and
// that a failed probe is cached with its reason.
func TestCachedKVM(t *testing.T) {
	ctx := context.Background()
	kernel := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(kernel, []byte("kernel"), 0o644)
	cache := filepath.Join(t.TempDir(), "cache")

	good, goodCalls := fakeQEMU(t, "echo '"+ReadyLine+"'; sleep 30")
	for range 2 {
		if ok, err := CachedKVM(ctx, cache, good, kernel, "initrd"); !ok || err != nil {
			t.Fatalf("CachedKVM = %v, %v; want true", ok, err)
		}
	}
	if n := countCalls(t, goodCalls); n != 1 {
		t.Errorf("qemu ran %d times for one kernel, want 1", n)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(kernel, later, later)
	CachedKVM(ctx, cache, good, kernel, "initrd")
	if n := countCalls(t, goodCalls); n != 2 {
		t.Errorf("qemu ran %d times after the kernel changed, want 2", n)
	}

	bad, badCalls := fakeQEMU(t, "echo 'failed to set MSR 0x10a' >&2; exit 1")
	for range 2 {
		if ok, err := CachedKVM(ctx, cache, bad, kernel, "initrd"); ok || err != nil {
			t.Fatalf("CachedKVM = %v, %v; want false", ok, err)
		}
	}
	if n := countCalls(t, badCalls); n != 1 {
		t.Errorf("qemu ran %d times for one kernel, want 1", n)
	}
	var rec probeRecord
	data, _ := os.ReadFile(filepath.Join(cache, ProbeCacheFile))
	if err := json.Unmarshal(data, &rec); err != nil || !strings.Contains(rec.Reason, "failed to set MSR") {
		t.Errorf("cache file %s: reason does not quote qemu (%v)", data, err)
	}
}

// TestProbeKVM runs the real probe. It only logs the answer: it is false
// on the machines here and may be true in CI.
func TestProbeKVM(t *testing.T) {
	h := needBoot(t)
	start := time.Now()
	ok, reason, err := probeKVM(context.Background(), h.qemu, h.kernel, h.initrd)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kvm usable: %v after %v %s", ok, time.Since(start).Round(time.Millisecond), reason)
}

// TestBootArgs pins the command line the boot tests and the benchmark use.
func TestBootArgs(t *testing.T) {
	for accel, want := range map[string]string{
		"tcg": "-M microvm,accel=tcg,acpi=on,pcie=off,pic=off,pit=off,usb=off -cpu max -m 256 -smp 1 -nodefaults -no-user-config -no-reboot -nographic -chardev stdio,id=stdio,signal=off -serial chardev:stdio -device i8042 -kernel K -initrd I -append earlyprintk=ttyS0 console=ttyS0 reboot=t panic=-1 tsc_early_khz=2000000 microvm.ip=eth0:10.0.2.15/24 -qmp unix:S,server,nowait",
		"kvm": "-M microvm,accel=kvm,acpi=on,pcie=off,pic=off,pit=off,usb=off -enable-kvm -cpu host -m 256 -smp 1 -nodefaults -no-user-config -no-reboot -nographic -chardev stdio,id=stdio,signal=off -serial chardev:stdio -device i8042 -kernel K -initrd I -append earlyprintk=ttyS0 console=ttyS0 reboot=t panic=-1 microvm.ip=eth0:10.0.2.15/24 -qmp unix:S,server,nowait",
	} {
		if got := strings.Join(bootArgs(accel, "K", "I", "microvm.ip=eth0:10.0.2.15/24", qmpArgs("S")...), " "); got != want {
			t.Errorf("%s:\n got %s\nwant %s", accel, got, want)
		}
	}
}
