package kubelet

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// waitPhase polls the provider until the Pod has phase, or fails.
func waitPhase(t *testing.T, p *Provider, pod *corev1.Pod, phase corev1.PodPhase) *corev1.PodStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.invalidate()
		st, err := p.GetPodStatus(context.Background(), pod.Namespace, pod.Name)
		if err == nil && st.Phase == phase {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: status %+v, err %v; want phase %s", pod.Name, st, err, phase)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events drains the recorded events.
func events(ev interface{ Len() int }, ch chan string) []string {
	var out []string
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}

func hasEvent(evs []string, prefix string) bool {
	for _, e := range evs {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func TestCreateRunDelete(t *testing.T) {
	ctx := t.Context()
	h := newFakeHost(t)
	dir := t.TempDir()
	p, ev := newTestProvider(t, ctx, h, dir)
	pod := testPod("web")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, p, pod, corev1.PodRunning)
	if !st.ContainerStatuses[0].Ready || st.ContainerStatuses[0].State.Running == nil {
		t.Errorf("running pod's container: %+v", st.ContainerStatuses[0])
	}
	name := VMName(pod)
	vm, ok := h.vm(name)
	if !ok || vm.Owner != state.OwnerKubelet || vm.Status.State != supervisor.Running {
		t.Fatalf("VM %q: %+v, exists %v; want running, owned by the kubelet", name, vm, ok)
	}
	if _, err := os.Stat(Records{Dir: dir}.SpecPath(name)); err != nil {
		t.Errorf("spec file of the VM: %v", err)
	}
	evs := events(nil, ev.Events)
	if !hasEvent(evs, "Normal Creating creating VM "+name+" from image registry.example/app:1") || !hasEvent(evs, "Normal Started") {
		t.Errorf("events %q; want Creating and Started", evs)
	}

	// Deletion honours the grace period, then removes the VM and its record.
	del := pod.DeepCopy()
	del.DeletionGracePeriodSeconds = new(int64)
	*del.DeletionGracePeriodSeconds = 7
	if err := p.DeletePod(ctx, del); err != nil {
		t.Fatal(err)
	}
	if h.stops[name] != 7*time.Second {
		t.Errorf("stop timeout %s; want the pod's grace period, 7s", h.stops[name])
	}
	if _, ok := h.vm(name); ok {
		t.Errorf("VM %q still exists after its pod was deleted", name)
	}
	if recs, _ := (Records{Dir: dir}).Load(); len(recs) != 0 {
		t.Errorf("records left: %+v", recs)
	}
	if _, err := p.GetPod(ctx, pod.Namespace, pod.Name); !errdefs.IsNotFound(err) {
		t.Errorf("GetPod after delete: %v; want not found", err)
	}
	if err := p.DeletePod(ctx, del); !errdefs.IsNotFound(err) {
		t.Errorf("second DeletePod: %v; want not found", err)
	}
}

// A restarted provider re-adopts the VMs of its records: it never
// creates one twice.
func TestRestartReadopts(t *testing.T) {
	h := newFakeHost(t)
	dir := t.TempDir()
	ctx1, stop1 := context.WithCancel(t.Context())
	p1, _ := newTestProvider(t, ctx1, h, dir)
	pod := testPod("db")
	if err := p1.CreatePod(ctx1, pod); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, p1, pod, corev1.PodRunning)
	stop1()

	p2, _ := newTestProvider(t, t.Context(), h, dir)
	waitPhase(t, p2, pod, corev1.PodRunning)
	if err := p2.CreatePod(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if h.creates != 1 {
		t.Errorf("%d creates; want 1: the restarted provider re-adopts", h.creates)
	}
	pods, err := p2.GetPods(t.Context())
	if err != nil || len(pods) != 1 || pods[0].UID != pod.UID {
		t.Errorf("GetPods after restart: %v, %v; want the one pod", pods, err)
	}
}

// A record written before the provider was killed, without its VM, is
// created on restart.
func TestRestartResumesCreate(t *testing.T) {
	h := newFakeHost(t)
	dir := t.TempDir()
	pod := testPod("late")
	plan, err := PlanPod(pod, testNode())
	if err != nil {
		t.Fatal(err)
	}
	if err := (Records{Dir: dir}).Put(Record{Pod: pod, Plan: plan, Accepted: time.Now()}); err != nil {
		t.Fatal(err)
	}
	p, _ := newTestProvider(t, t.Context(), h, dir)
	waitPhase(t, p, pod, corev1.PodRunning)
	if h.creates != 1 {
		t.Errorf("%d creates; want 1", h.creates)
	}
}

// Reconcile removes owned VMs no Pod accounts for and the VMs of Pods
// Kubernetes no longer has; never a VM made by hand or by apply.
func TestReconcileOnlyOwned(t *testing.T) {
	ctx := t.Context()
	h := newFakeHost(t)
	running := supervisor.Status{State: supervisor.Running, Wanted: true}
	for name, owner := range map[string]state.Owner{"orphan": state.OwnerKubelet, "byhand": state.OwnerNone, "applied": state.OwnerApply} {
		s := running
		s.Name = name
		h.vms[name] = &VM{Owner: owner, Status: s}
	}
	p, _ := newTestProvider(t, ctx, h, t.TempDir())
	kept, gone := testPod("kept"), testPod("gone")
	for _, pod := range []*corev1.Pod{kept, gone} {
		if err := p.CreatePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
		waitPhase(t, p, pod, corev1.PodRunning)
	}
	client := fake.NewSimpleClientset(kept)
	f := informers.NewSharedInformerFactory(client, 0)
	lister := f.Core().V1().Pods().Lister()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), f.Core().V1().Pods().Informer().HasSynced) {
		t.Fatal("informer did not sync")
	}
	p.SetPodLister(lister)
	if err := p.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"orphan": false, "byhand": true, "applied": true, VMName(kept): true, VMName(gone): false} {
		if _, ok := h.vm(name); ok != want {
			t.Errorf("VM %q exists %v after reconcile; want %v", name, ok, want)
		}
	}
	if _, err := p.GetPod(ctx, gone.Namespace, gone.Name); !errdefs.IsNotFound(err) {
		t.Errorf("pod gone from Kubernetes still known: %v", err)
	}
}

// Bad Pods are refused with an event and a Failed status, and leave no
// VM behind.
func TestRefused(t *testing.T) {
	ctx := t.Context()
	h := newFakeHost(t)
	h.vms["byhand"] = &VM{Status: supervisor.Status{Name: "byhand", State: supervisor.Running}}
	p, ev := newTestProvider(t, ctx, h, t.TempDir())
	for _, tc := range []struct {
		name   string
		edit   func(*corev1.Pod)
		reason string
	}{
		{"hv", func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationHypervisor: "vmware"} }, "InvalidAnnotation"},
		{"typo", func(p *corev1.Pod) { p.Annotations = map[string]string{"microvm.dev/hypervsior": "qemu"} }, "InvalidAnnotation"},
		{"name", func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationName: "-bad"} }, "InvalidName"},
		{"taken", func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationName: "byhand"} }, EventNameTaken},
		{"big", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resourceMust("64Gi")}
		}, "OutOfResources"},
	} {
		pod := testPod(tc.name)
		tc.edit(pod)
		if err := p.CreatePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
		st := waitPhase(t, p, pod, corev1.PodFailed)
		if st.Reason != tc.reason {
			t.Errorf("pod %s: reason %q; want %q", tc.name, st.Reason, tc.reason)
		}
		if evs := events(nil, ev.Events); !hasEvent(evs, "Warning "+tc.reason+" ") {
			t.Errorf("pod %s: events %q; want a warning %s", tc.name, evs, tc.reason)
		}
		if err := p.DeletePod(ctx, pod); err != nil {
			t.Errorf("deleting refused pod %s: %v", tc.name, err)
		}
	}
	if h.creates != 0 || len(h.vms) != 1 {
		t.Errorf("%d creates, VMs %v; want none created and the hand-made one kept", h.creates, h.vms)
	}
}

// A create that fails (an image that cannot be pulled) is retried with
// an event each time, the Pod Pending; it leaves no VM.
func TestCreateRetried(t *testing.T) {
	ctx := t.Context()
	h := newFakeHost(t)
	h.failing = errors.New(`image "registry.example/nope:1": not found`)
	p, ev := newTestProvider(t, ctx, h, t.TempDir())
	pod := testPod("nope")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	st := waitPhase(t, p, pod, corev1.PodPending)
	if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != EventCreateFailed || !strings.Contains(w.Message, "not found") {
		t.Errorf("waiting state %+v; want CreateFailed with the error", w)
	}
	if evs := events(nil, ev.Events); !hasEvent(evs, "Warning CreateFailed creating VM") {
		t.Errorf("events %q; want CreateFailed", evs)
	}
	h.mu.Lock()
	h.failing = nil
	h.mu.Unlock()
	waitPhase(t, p, pod, corev1.PodRunning)
}

// A VM that stops by itself ends the Pod with its process's status.
func TestExitStatus(t *testing.T) {
	ctx := t.Context()
	h := newFakeHost(t)
	p, _ := newTestProvider(t, ctx, h, t.TempDir())
	for _, tc := range []struct {
		code  int
		phase corev1.PodPhase
	}{{0, corev1.PodSucceeded}, {7, corev1.PodFailed}} {
		pod := testPod("job" + string(rune('a'+tc.code)))
		if err := p.CreatePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
		waitPhase(t, p, pod, corev1.PodRunning)
		h.mu.Lock()
		vm := h.vms[VMName(pod)]
		code := tc.code
		vm.Status.State, vm.Status.Wanted = supervisor.Stopped, false
		vm.Status.Exit = &supervisor.Outcome{How: supervisor.PoweredOff, Process: &code}
		h.mu.Unlock()
		st := waitPhase(t, p, pod, tc.phase)
		if term := st.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != int32(tc.code) {
			t.Errorf("exit %d: terminated state %+v", tc.code, term)
		}
	}
}
