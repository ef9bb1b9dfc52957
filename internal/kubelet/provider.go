package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/microvm-host/microvm/internal/state"
)

// Event reasons the provider records on Pods, besides a Refusal's.
const (
	EventCreating     = "Creating"
	EventCreateFailed = "CreateFailed"
	EventStarted      = "Started"
	EventStopped      = "Killing"
	EventNameTaken    = "NameTaken"
)

// Timing of the provider.
const (
	// retryFirst and retryMax bound the backoff between failed creates
	// (an image that cannot be pulled now may be pushed later).
	retryFirst = 10 * time.Second
	retryMax   = 5 * time.Minute
	// vmsFresh is how long a listing of the host's VMs answers status
	// requests: the pod controller asks for every Pod every few seconds.
	vmsFresh = time.Second
	// orphanGrace is how long an orphan's guest gets to shut down.
	orphanGrace = 10 * time.Second
	// defaultGrace is Kubernetes' terminationGracePeriodSeconds default.
	defaultGrace = 30 * time.Second
)

// Config configures a Provider.
type Config struct {
	Host    Host
	Records Records
	Node    NodeConfig
	Events  record.EventRecorder
	Log     *slog.Logger
	// RetryFirst overrides retryFirst (tests).
	RetryFirst time.Duration
}

// Provider is the virtual-kubelet provider: Pods of this node become VMs
// of this host. Its methods are safe for concurrent use.
type Provider struct {
	cfg   Config
	pods  corev1listers.PodLister // set by SetPodLister, for Reconcile
	ctx   context.Context         // the provider's life: creates run in it
	retry time.Duration

	mu      sync.Mutex
	tracked map[string]*tracked // by namespace/name
	vms     map[string]VM       // the host's VMs, as of vmsAt
	vmsAt   time.Time
}

// tracked is one Pod the provider accepted or refused.
type tracked struct {
	rec      Record
	progress progress
	cancel   context.CancelFunc // the create in progress; nil when none
	done     chan struct{}      // closed when that create ended
}

func key(namespace, name string) string { return namespace + "/" + name }

// New returns a provider that re-adopts the VMs of the records in
// cfg.Records: their Pods are known again without creating anything,
// and a Pod whose VM was never created is created now. ctx bounds the
// provider's background work.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.Node.Check(); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, ctx: ctx, retry: retryFirst, tracked: map[string]*tracked{}}
	if cfg.RetryFirst > 0 {
		p.retry = cfg.RetryFirst
	}
	recs, err := cfg.Records.Load()
	if err != nil {
		// Unreadable records are skipped: their VMs count as orphans.
		cfg.Log.Warn("skipping unreadable pod records", "err", err)
	}
	vms, err := p.hostVMs(ctx, true)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		t := &tracked{rec: rec}
		p.tracked[key(rec.Pod.Namespace, rec.Pod.Name)] = t
		if vm, ok := vms[rec.Plan.VM]; ok && vm.Owner == state.OwnerKubelet {
			cfg.Log.Info("re-adopted VM", "vm", rec.Plan.VM, "pod", key(rec.Pod.Namespace, rec.Pod.Name), "state", vm.Status.State)
			continue
		}
		p.startCreate(t)
	}
	return p, nil
}

// SetPodLister gives the provider the node's Pods as Kubernetes knows
// them, for Reconcile.
func (p *Provider) SetPodLister(l corev1listers.PodLister) { p.pods = l }

// CreatePod accepts pod: it is refused (a Failed Pod with an event) when
// it cannot become a VM here, else recorded and created in the
// background while the Pod is Pending.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	k := key(pod.Namespace, pod.Name)
	p.mu.Lock()
	t, ok := p.tracked[k]
	p.mu.Unlock()
	if ok {
		if t.rec.Pod.UID == pod.UID {
			return nil // known: a provider restart, or a retried call
		}
		return fmt.Errorf("pod %s: the VM of an earlier pod of that name (uid %s) is still being removed", k, t.rec.Pod.UID)
	}
	t = &tracked{rec: Record{Pod: pod.DeepCopy(), Plan: Plan{VM: VMName(pod)}, Accepted: time.Now()}}
	plan, err := PlanPod(pod, p.cfg.Node)
	var r *Refusal
	switch {
	case errors.As(err, &r):
	case err != nil:
		return err
	default:
		t.rec.Plan = plan
		vms, err := p.hostVMs(ctx, true)
		if err != nil {
			return err
		}
		r = p.nameTaken(vms, plan.VM)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r != nil {
		t.progress = progress{Reason: r.Reason, Message: r.Message, Refused: true}
		p.tracked[k] = t
		p.cfg.Events.Event(pod, corev1.EventTypeWarning, r.Reason, r.Message)
		p.cfg.Log.Warn("refused pod", "pod", k, "reason", r.Reason, "err", r.Message)
		return nil
	}
	// Recorded before the VM exists: see Record.
	if err := p.cfg.Records.Put(t.rec); err != nil {
		return err
	}
	p.tracked[k] = t
	p.startCreate(t)
	return nil
}

// nameTaken refuses a VM name that another VM of the host has, or
// another Pod of this node: AnnotationName may name any VM.
func (p *Provider) nameTaken(vms map[string]VM, vm string) *Refusal {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, t := range p.tracked {
		if t.rec.Plan.VM == vm && !t.progress.Refused {
			return refuse(EventNameTaken, "VM name %q is pod %s's on this node; name this one otherwise (annotation %s)", vm, k, AnnotationName)
		}
	}
	if _, ok := vms[vm]; ok {
		return refuse(EventNameTaken, "a VM %q exists on this host and is not this pod's; name this one otherwise (annotation %s)", vm, AnnotationName)
	}
	return nil
}

// startCreate creates and starts t's VM in the background, retrying
// with a backoff until it works or the Pod is deleted. The caller holds
// p.mu or is the only user of t.
func (p *Provider) startCreate(t *tracked) {
	ctx, cancel := context.WithCancel(p.ctx)
	t.cancel, t.done = cancel, make(chan struct{})
	t.progress = progress{Reason: reasonCreating}
	go func() {
		defer close(t.done)
		p.create(ctx, t)
	}()
}

func (p *Provider) create(ctx context.Context, t *tracked) {
	pod, plan := t.rec.Pod, t.rec.Plan
	log := p.cfg.Log.With("pod", key(pod.Namespace, pod.Name), "vm", plan.VM)
	what := "image " + pod.Spec.Containers[0].Image
	if plan.Runner != "" {
		what = "runner " + plan.Runner
	}
	p.cfg.Events.Eventf(pod, corev1.EventTypeNormal, EventCreating, "creating VM %s from %s", plan.VM, what)
	for delay := p.retry; ; delay = min(2*delay, retryMax) {
		err := p.createOnce(ctx, plan)
		if err == nil {
			p.invalidate()
			log.Info("started VM")
			p.cfg.Events.Eventf(pod, corev1.EventTypeNormal, EventStarted, "started VM %s", plan.VM)
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("creating VM failed", "err", err, "retry", delay)
		p.cfg.Events.Eventf(pod, corev1.EventTypeWarning, EventCreateFailed, "creating VM %s: %v (retrying in %s)", plan.VM, err, delay)
		p.mu.Lock()
		t.progress = progress{Reason: EventCreateFailed, Message: err.Error()}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// createOnce creates plan's VM unless a provider before this one did,
// and starts it.
func (p *Provider) createOnce(ctx context.Context, plan Plan) error {
	vms, err := p.hostVMs(ctx, true)
	if err != nil {
		return err
	}
	vm, exists := vms[plan.VM]
	if exists && vm.Owner != state.OwnerKubelet {
		return fmt.Errorf("a VM %q exists on this host and is not this pod's", plan.VM)
	}
	if !exists {
		if err := p.cfg.Host.Create(ctx, plan); err != nil {
			return err
		}
	}
	return p.cfg.Host.Start(ctx, plan.VM)
}

// UpdatePod changes nothing: a Pod's container and annotations cannot
// change after it is created, and the VM keeps what it was made from.
func (p *Provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error { return nil }

// DeletePod stops the Pod's VM gracefully, within the Pod's grace
// period, removes it and forgets the Pod.
func (p *Provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	k := key(pod.Namespace, pod.Name)
	p.mu.Lock()
	t, ok := p.tracked[k]
	p.mu.Unlock()
	if !ok || t.rec.Pod.UID != pod.UID {
		return errdefs.NotFoundf("pod %s is not on this node", k)
	}
	return p.remove(ctx, k, t, grace(pod))
}

// grace is the Pod's grace period: the deletion's, else its spec's.
func grace(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return defaultGrace
}

// remove ends t's create, stops and removes its VM, and forgets it.
func (p *Provider) remove(ctx context.Context, k string, t *tracked, g time.Duration) error {
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
	if !t.progress.Refused {
		vm := t.rec.Plan.VM
		vms, err := p.hostVMs(ctx, true)
		if err != nil {
			return err
		}
		if v, ok := vms[vm]; ok && v.Owner == state.OwnerKubelet {
			if err := p.cfg.Host.Stop(ctx, vm, g); err != nil {
				return err
			}
			p.cfg.Events.Eventf(t.rec.Pod, corev1.EventTypeNormal, EventStopped, "stopped VM %s (grace period %s)", vm, g)
			if err := p.cfg.Host.Remove(ctx, vm); err != nil {
				return err
			}
			p.cfg.Log.Info("removed VM", "pod", k, "vm", vm)
		}
		if err := p.cfg.Records.Delete(vm); err != nil {
			return err
		}
		p.invalidate()
	}
	p.mu.Lock()
	if p.tracked[k] == t {
		delete(p.tracked, k)
	}
	p.mu.Unlock()
	return nil
}

// GetPod returns the Pod with its current status.
func (p *Provider) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	k := key(namespace, name)
	p.mu.Lock()
	t, ok := p.tracked[k]
	p.mu.Unlock()
	if !ok {
		return nil, errdefs.NotFoundf("pod %s is not on this node", k)
	}
	return p.withStatus(ctx, t)
}

// GetPodStatus returns the Pod's current status.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every Pod the provider knows, with its status.
func (p *Provider) GetPods(ctx context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	ts := make([]*tracked, 0, len(p.tracked))
	for _, t := range p.tracked {
		ts = append(ts, t)
	}
	p.mu.Unlock()
	pods := make([]*corev1.Pod, 0, len(ts))
	for _, t := range ts {
		pod, err := p.withStatus(ctx, t)
		if err != nil {
			return nil, err
		}
		pods = append(pods, pod)
	}
	return pods, nil
}

func (p *Provider) withStatus(ctx context.Context, t *tracked) (*corev1.Pod, error) {
	vms, err := p.hostVMs(ctx, false)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	pod, prog := t.rec.Pod.DeepCopy(), t.progress
	rec := t.rec
	p.mu.Unlock()
	var vm *VM
	if v, ok := vms[rec.Plan.VM]; ok && v.Owner == state.OwnerKubelet && !prog.Refused {
		vm = &v
	}
	pod.Status = PodStatus(rec, vm, prog)
	return pod, nil
}

// hostVMs lists the host's VMs by name; fresh forces a new listing.
func (p *Provider) hostVMs(ctx context.Context, fresh bool) (map[string]VM, error) {
	p.mu.Lock()
	if !fresh && p.vms != nil && time.Since(p.vmsAt) < vmsFresh {
		vms := p.vms
		p.mu.Unlock()
		return vms, nil
	}
	p.mu.Unlock()
	list, err := p.cfg.Host.VMs(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the host's VMs: %w", err)
	}
	vms := make(map[string]VM, len(list))
	for _, vm := range list {
		vms[vm.Status.Name] = vm
	}
	p.mu.Lock()
	p.vms, p.vmsAt = vms, time.Now()
	p.mu.Unlock()
	return vms, nil
}

func (p *Provider) invalidate() {
	p.mu.Lock()
	p.vms = nil
	p.mu.Unlock()
}

// Reconcile removes what no Pod accounts for: VMs the provider owns
// without a record of their Pod (a provider killed between create and
// record, or a record lost), and the VMs of Pods Kubernetes no longer
// has on this node. VMs of another owner, or made by hand, are left
// alone. It needs the pod lister (SetPodLister), synced.
func (p *Provider) Reconcile(ctx context.Context) error {
	vms, err := p.hostVMs(ctx, true)
	if err != nil {
		return err
	}
	p.mu.Lock()
	ours := map[string]bool{}
	var gone []string
	for k, t := range p.tracked {
		ours[t.rec.Plan.VM] = true
		if p.pods != nil && !p.known(t.rec.Pod) {
			gone = append(gone, k)
		}
	}
	p.mu.Unlock()
	var errs []error
	for name, vm := range vms {
		if vm.Owner != state.OwnerKubelet || ours[name] {
			continue
		}
		p.cfg.Log.Info("removing orphan VM: no pod of this node accounts for it", "vm", name)
		if err := p.cfg.Host.Stop(ctx, name, orphanGrace); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.cfg.Host.Remove(ctx, name); err != nil {
			errs = append(errs, err)
		}
		p.invalidate()
	}
	for _, k := range gone {
		p.mu.Lock()
		t := p.tracked[k]
		p.mu.Unlock()
		if t == nil {
			continue
		}
		p.cfg.Log.Info("removing the VM of a deleted pod", "pod", k, "vm", t.rec.Plan.VM)
		if err := p.remove(ctx, k, t, grace(t.rec.Pod)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// known reports whether Kubernetes still has pod (same UID). The
// caller holds p.mu.
func (p *Provider) known(pod *corev1.Pod) bool {
	k8s, err := p.pods.Pods(pod.Namespace).Get(pod.Name)
	if apierrors.IsNotFound(err) {
		return false
	}
	return err != nil || k8s.UID == pod.UID
}
