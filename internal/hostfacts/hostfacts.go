// Package hostfacts probes what runner generators need to know about the
// host: the architecture, whether KVM really works, io_uring, and which
// hypervisor binary is installed in which release. Generators stay pure;
// this is the one place that looks at the machine.
package hostfacts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"

	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/hypervisor"
)

// KVM modes for Probe.
const (
	KVMAuto = "auto" // probe (qemu), or trust /dev/kvm (the others need it anyway)
	KVMOn   = "on"
	KVMOff  = "off"
)

// Probe returns the facts for generating a runner with g. For qemu in auto
// mode, KVM is used only when a probe boot of the demo guest under KVM
// succeeds (cached in cacheDir): a /dev/kvm can exist and still hang
// guests, as on nested paravirtual hosts.
//
// The hypervisor's binary is looked up on PATH and asked for its version;
// see probeBinary.
func Probe(ctx context.Context, g hypervisor.Generator, kvm, cacheDir string) (hypervisor.Facts, error) {
	f := hypervisor.Facts{Arch: Arch(), TSCKHz: TSCKHz(), IOUring: IOUring()}
	probeBinary(ctx, g, &f)
	switch kvm {
	case KVMOn:
		f.KVM = true
	case KVMOff:
	case KVMAuto, "":
		_, err := os.Stat("/dev/kvm")
		f.KVM = err == nil
		if f.KVM && g.Name() == "qemu" {
			ok, err := probeQemuKVM(ctx, hypervisor.Binary(g, f), cacheDir)
			if err != nil {
				return f, err
			}
			f.KVM = ok
		}
	default:
		return f, fmt.Errorf("kvm mode %q; expected %s, %s or %s", kvm, KVMAuto, KVMOn, KVMOff)
	}
	return f, nil
}

// Arch is the host architecture in microvm.nix's (and qemu's) spelling.
func Arch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// probeQemuKVM boots the demo guest with the host's kernel under KVM. No
// qemu or no kernel to probe with means no KVM: TCG always works.
func probeQemuKVM(ctx context.Context, qemu, cacheDir string) (bool, error) {
	if _, err := exec.LookPath(qemu); err != nil {
		return false, nil
	}
	kernel, version, err := guest.DefaultKernel()
	if err != nil {
		return false, nil
	}
	initrd := filepath.Join(cacheDir, "probe-initrd-"+version+".img")
	if _, err := os.Stat(initrd); err != nil {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return false, fmt.Errorf("probing kvm: %w", err)
		}
		f, err := renameio.NewPendingFile(initrd)
		if err != nil {
			return false, fmt.Errorf("probing kvm: %w", err)
		}
		defer f.Cleanup()
		if err := guest.BuildInitramfs(f, guest.Options{KernelVersion: version}); err != nil {
			return false, nil // no busybox-static or modules: cannot probe
		}
		if err := f.CloseAtomicallyReplace(); err != nil {
			return false, fmt.Errorf("probing kvm: %w", err)
		}
	}
	return guest.CachedKVM(ctx, cacheDir, qemu, kernel, initrd)
}

// CacheDir is where probe results are kept: $XDG_CACHE_HOME/microvm.
func CacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "microvm")
	}
	return filepath.Join(os.TempDir(), "microvm-cache")
}

// defaultTSCKHz is used when the host's rate cannot be read; a wrong
// value only makes a TCG guest's clock drift.
const defaultTSCKHz = 2000000

// TSCKHz estimates the host's TSC rate from /proc/cpuinfo ("cpu MHz" of
// the first CPU; constant-TSC CPUs tick at their base clock, which this
// approximates).
func TSCKHz() int {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return defaultTSCKHz
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "cpu MHz" {
			continue
		}
		mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || mhz <= 0 {
			break
		}
		return int(mhz) * 1000 // whole MHz: the reading jitters on some hosts
	}
	return defaultTSCKHz
}
