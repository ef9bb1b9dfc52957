package kubelet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/microvm-host/microvm/internal/logfile"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// fakeHost records the host's VMs as the state directory and daemon
// would hold them.
type fakeHost struct {
	mu      sync.Mutex
	vms     map[string]*VM
	creates int
	stops   map[string]time.Duration
	failing error // Create fails with it while set
	logs    string
}

func newFakeHost(t *testing.T) *fakeHost {
	return &fakeHost{vms: map[string]*VM{}, stops: map[string]time.Duration{}, logs: t.TempDir()}
}

func (h *fakeHost) Create(ctx context.Context, p Plan) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing != nil {
		return h.failing
	}
	if _, ok := h.vms[p.VM]; ok {
		return fmt.Errorf("VM %q: %w", p.VM, state.ErrExists)
	}
	h.creates++
	h.vms[p.VM] = &VM{Owner: state.OwnerKubelet, Status: supervisor.Status{Name: p.VM, State: supervisor.Stopped}}
	return nil
}

func (h *fakeHost) Start(ctx context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	vm, ok := h.vms[name]
	if !ok {
		return fmt.Errorf("starting %q: %w", name, state.ErrNotExist)
	}
	vm.Status.State, vm.Status.Wanted, vm.Status.PID, vm.Status.Since = supervisor.Running, true, 4242, time.Now()
	return nil
}

func (h *fakeHost) Stop(ctx context.Context, name string, timeout time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	vm, ok := h.vms[name]
	if !ok {
		return fmt.Errorf("stopping %q: %w", name, state.ErrNotExist)
	}
	h.stops[name] = timeout
	vm.Status.State, vm.Status.Wanted, vm.Status.PID = supervisor.Stopped, false, 0
	return nil
}

func (h *fakeHost) Remove(ctx context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	vm, ok := h.vms[name]
	if !ok {
		return nil
	}
	if vm.Owner != state.OwnerKubelet {
		return fmt.Errorf("removing %q: owned by %q", name, vm.Owner)
	}
	if vm.Status.State != supervisor.Stopped {
		return fmt.Errorf("removing %q: it is %s", name, vm.Status.State)
	}
	delete(h.vms, name)
	return nil
}

func (h *fakeHost) VMs(ctx context.Context) ([]VM, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []VM
	for _, vm := range h.vms {
		out = append(out, *vm)
	}
	return out, nil
}

func (h *fakeHost) LogPath(name string) string { return filepath.Join(h.logs, name+".log") }

// Logs is the daemon's: the tail, then following from where it ended.
func (h *fakeHost) Logs(ctx context.Context, name string, lines int, follow bool, w io.Writer) error {
	path := h.LogPath(name)
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	b, err := logfile.Tail(path, lines)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil || !follow {
		return err
	}
	return logfile.Follow(ctx, path, fi.Size(), w)
}

// vm returns a copy of the VM name, and whether it exists.
func (h *fakeHost) vm(name string) (VM, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	vm, ok := h.vms[name]
	if !ok {
		return VM{}, false
	}
	return *vm, true
}

func testNode() NodeConfig {
	return NodeConfig{
		Name: "host1", Address: "10.0.0.1", Port: 10250,
		CPU: resource.MustParse("4"), Memory: resource.MustParse("8Gi"),
		ReserveCPU: resource.MustParse("1"), ReserveMemory: resource.MustParse("1Gi"),
		MaxPods: 10, Hypervisors: []string{"cloud-hypervisor", "qemu"},
	}
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName:   "host1",
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
		},
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// newTestProvider returns a provider on h with records in dir.
func newTestProvider(t *testing.T, ctx context.Context, h Host, dir string) (*Provider, *record.FakeRecorder) {
	t.Helper()
	ev := record.NewFakeRecorder(100)
	p, err := New(ctx, Config{Host: h, Records: Records{Dir: dir}, Node: testNode(), Events: ev, Log: testLogger(t), RetryFirst: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p, ev
}

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }
