package kubetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// host is one microvm host: a daemon and its provider in a network
// namespace of their own, with their own state and runtime directories.
type host struct {
	i        int
	name     string // the node's name
	ns       string
	dir      string
	maxPods  int
	env      []string
	procs    []*proc
	pki      *pki
	microvm  string
	daemonAt *api.Client
	// top is the test that made the host: its processes live as long
	// as it, not as the subtest that (re)starts them.
	top *testing.T
}

func (h *host) stateDir() string   { return filepath.Join(h.dir, "state") }
func (h *host) runtimeDir() string { return filepath.Join(h.dir, "run") }

func newHost(t *testing.T, i int, ns string, p *pki, maxPods int, extraEnv []string) *host {
	self, err := os.Executable()
	check(t, err)
	h := &host{i: i, name: fmt.Sprintf("host%d", i), ns: ns, dir: t.TempDir(), maxPods: maxPods, pki: p, microvm: self, top: t}
	// The VMs run as root: the tier tests the node, not the drop to
	// the VM user. A VM that stops is not restarted by the daemon:
	// Kubernetes decides (it replaces a failed Pod).
	conf := filepath.Join(h.dir, "host.toml")
	check(t, os.WriteFile(conf, []byte("user = \"root\"\ngroup = \"root\"\nrestart = \"no\"\n"), 0o644))
	h.env = append([]string{envMicrovm + "=1", "NO_COLOR=1",
		state.EnvRoot + "=" + h.stateDir(), state.EnvRuntimeDir + "=" + h.runtimeDir(),
		"MICROVM_HOST_CONFIG=" + conf}, extraEnv...)
	h.daemonAt = api.NewClient(h.runtimeDir())
	return h
}

// start starts the host's daemon, waits for its socket, then starts the
// provider.
func (h *host) start(t *testing.T) {
	t.Helper()
	d := startIn(h.top, h.ns, h.dir, "daemon", h.env, h.microvm, "daemon")
	deadline := time.Now().Add(time.Minute)
	for !h.daemonAt.Available() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the daemon did not listen\n%s", h.name, d.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	k := startIn(h.top, h.ns, h.dir, "kubelet", h.env, h.microvm, "kubelet",
		"--kubeconfig", h.pki.kubeconfig, "--node-name", h.name, "--address", hostAddr(h.i),
		"--client-ca", h.pki.path("ca.pem"), "--kvm", "off",
		"--max-pods", strconv.Itoa(h.maxPods), "--reconcile", "5s")
	h.procs = []*proc{d, k}
}

// kill loses the host: every process of its namespace (daemon,
// provider, monitors and hypervisors) is killed with SIGKILL.
func (h *host) kill(t *testing.T) {
	out, err := exec.Command("ip", "netns", "pids", h.ns).Output()
	check(t, err)
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, p := range h.procs {
		p.kill()
	}
}

// logs is the end of the host's logs, for failure messages.
func (h *host) logs() string {
	var b strings.Builder
	for _, p := range h.procs {
		b.WriteString(p.logTail() + "\n")
	}
	return b.String()
}

// vms are the host's VMs owned by the provider, by name, read from its
// daemon; running ones have a live PID.
func (h *host) vms(ctx context.Context) (map[string]supervisor.Status, error) {
	sts, err := h.daemonAt.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	d, err := state.Open(h.stateDir())
	if err != nil {
		return nil, err
	}
	out := map[string]supervisor.Status{}
	for _, s := range sts {
		if o, err := d.ReadOwner(s.Name); err == nil && o == state.OwnerKubelet {
			out[s.Name] = s
		}
	}
	return out, nil
}

// running reports whether the VM's hypervisor process exists.
func running(s supervisor.Status) bool {
	if s.State != supervisor.Running || s.PID <= 0 {
		return false
	}
	return syscall.Kill(s.PID, 0) == nil
}

// stubRunner writes a runner package whose "hypervisor" is a shell that
// waits, and exits 0 on SIGTERM: a graceful stop without a guest.
func stubRunner(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "stub")
	check(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	check(t, os.WriteFile(filepath.Join(dir, "bin", "microvm-run"), []byte(`#!/bin/sh
echo "stub VM running"
trap 'echo "stub VM stopping"; kill $!; exit 0' TERM
sleep 100000 &
wait $!
`), 0o755))
	return dir
}
