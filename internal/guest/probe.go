package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
)

// ProbeTimeout bounds a KVM probe boot. Under working KVM the guest is
// ready in well under a second; a broken nested KVM either hangs the guest
// or makes qemu abort.
const ProbeTimeout = 8 * time.Second

// ProbeCacheFile is the name of CachedKVM's file inside its cache dir.
const ProbeCacheFile = "kvm-probe.json"

// ProbeKVM boots kernel and initrd (built by BuildInitramfs) under KVM and
// reports whether the guest became ready within ProbeTimeout. The machines
// here have a /dev/kvm that hangs stock kernels, so only a boot tells.
// A qemu that cannot be started is an error; a guest that does not boot,
// including a qemu that refuses KVM, is false.
func ProbeKVM(ctx context.Context, qemu, kernel, initrd string) (bool, error) {
	ok, _, err := probeKVM(ctx, qemu, kernel, initrd)
	return ok, err
}

// probeKVM is ProbeKVM that also says why KVM did not work, for the cache
// file a human reads when wondering why the host runs TCG.
func probeKVM(ctx context.Context, qemu, kernel, initrd string) (ok bool, reason string, err error) {
	m, err := startMachine(qemu, bootArgs("kvm", kernel, initrd, "quiet"))
	if err != nil {
		return false, "", fmt.Errorf("probing kvm: %w", err)
	}
	defer m.kill()
	wctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	err = m.waitFor(wctx, ReadyLine)
	if ctx.Err() != nil {
		return false, "", fmt.Errorf("probing kvm: %w", ctx.Err())
	}
	if err != nil {
		return false, fmt.Sprintf("%v; console ends: %q", err, lastLines(m.console(), 2)), nil
	}
	return true, "", nil
}

// lastLines returns the last n non-empty lines of s.
func lastLines(s string, n int) string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// probeKey identifies what a cached probe result is valid for: a new
// kernel or another qemu needs a new probe.
type probeKey struct {
	Kernel      string    `json:"kernel"`
	KernelSize  int64     `json:"kernel_size"`
	KernelMtime time.Time `json:"kernel_mtime"`
	QEMU        string    `json:"qemu"`
}

type probeRecord struct {
	Key    probeKey `json:"key"`
	KVM    bool     `json:"kvm"`
	Reason string   `json:"reason,omitempty"` // why KVM did not work
}

// CachedKVM is ProbeKVM with the result kept in cacheDir/ProbeCacheFile,
// keyed by the kernel's path, size and mtime and qemu's path, since a
// probe costs up to ProbeTimeout.
func CachedKVM(ctx context.Context, cacheDir, qemu, kernel, initrd string) (bool, error) {
	key, err := newProbeKey(qemu, kernel)
	if err != nil {
		return false, err
	}
	file := filepath.Join(cacheDir, ProbeCacheFile)
	var rec probeRecord
	// An unreadable or stale cache is only a reason to probe again.
	if data, err := os.ReadFile(file); err == nil && json.Unmarshal(data, &rec) == nil && rec.Key == key {
		return rec.KVM, nil
	}
	ok, reason, err := probeKVM(ctx, qemu, kernel, initrd)
	if err != nil {
		return false, err
	}
	// No HTML escaping: the reason quotes qemu's messages, "->" included.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(probeRecord{Key: key, KVM: ok, Reason: reason}); err != nil {
		return false, err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return false, fmt.Errorf("caching kvm probe: %w", err)
	}
	if err := renameio.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return false, fmt.Errorf("caching kvm probe: %w", err)
	}
	return ok, nil
}

func newProbeKey(qemu, kernel string) (probeKey, error) {
	fi, err := os.Stat(kernel)
	if err != nil {
		return probeKey{}, fmt.Errorf("probing kvm: %w", err)
	}
	path, err := exec.LookPath(qemu)
	if err != nil {
		return probeKey{}, fmt.Errorf("probing kvm: %w", err)
	}
	abs, err := filepath.Abs(kernel)
	if err != nil {
		return probeKey{}, fmt.Errorf("probing kvm: %w", err)
	}
	// UTC and no monotonic part, so the key survives a JSON round trip.
	return probeKey{Kernel: abs, KernelSize: fi.Size(), KernelMtime: fi.ModTime().UTC().Round(0), QEMU: path}, nil
}
