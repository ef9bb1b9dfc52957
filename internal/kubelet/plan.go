package kubelet

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

// Pod annotations that override the VM's spec. Any other annotation
// under AnnotationPrefix is refused, so that a typo is an event on the
// Pod rather than an option silently ignored.
const (
	AnnotationPrefix = "microvm.dev/"
	// AnnotationHypervisor picks one of the node's hypervisors (its
	// hypervisor.microvm.dev/NAME label); default qemu.
	AnnotationHypervisor = AnnotationPrefix + "hypervisor"
	// AnnotationKernel is an absolute path on the host to the kernel
	// that boots the image; default the host's newest.
	AnnotationKernel = AnnotationPrefix + "kernel"
	// AnnotationKernelParams are extra kernel parameters, separated by
	// spaces.
	AnnotationKernelParams = AnnotationPrefix + "kernel-params"
	// AnnotationRunner names a runner source, an absolute runner package
	// directory or a flake reference, that runs instead of the image:
	// the container's image is then only what Kubernetes shows, and its
	// command, limits and the other annotations do not apply (the runner
	// says everything about its VM).
	AnnotationRunner = AnnotationPrefix + "runner"
	// AnnotationName is the VM's name on the host (and the guest's host
	// name), instead of one derived from the Pod.
	AnnotationName = AnnotationPrefix + "name"
)

var annotations = []string{AnnotationHypervisor, AnnotationKernel, AnnotationKernelParams, AnnotationRunner, AnnotationName}

// Plan is the VM a Pod becomes.
type Plan struct {
	VM string // the VM's name on this host
	// Runner is the runner source of AnnotationRunner; "" for an image
	// VM, whose spec file is Spec.
	Runner string
	Spec   []byte
	Vcpu   int
	Mem    int // MiB
}

// Refusal is why a Pod cannot become a VM: its Reason is the Pod's
// status reason and the event's, its Message says what to change.
type Refusal struct {
	Reason  string
	Message string
}

func (r *Refusal) Error() string { return r.Message }

func refuse(reason, format string, a ...any) *Refusal {
	return &Refusal{Reason: reason, Message: fmt.Sprintf(format, a...)}
}

// Defaults for a Pod without limits, as a spec without vcpu and mem.
const (
	defaultVcpu = spec.DefaultVcpu
	defaultMem  = spec.DefaultMem
)

// PlanPod turns pod into the VM it becomes on the node c describes, or
// refuses it. It is pure: the host's facts are in c.
func PlanPod(pod *corev1.Pod, c NodeConfig) (Plan, error) {
	if len(pod.Spec.Containers) == 0 {
		return Plan{}, refuse("InvalidPod", "the pod has no container")
	}
	if len(pod.Spec.Containers) > 1 || len(pod.Spec.InitContainers) > 0 {
		return Plan{}, refuse("InvalidPod", "the pod has %d containers and %d init containers; a VM pod has exactly one container, whose image is the guest", len(pod.Spec.Containers), len(pod.Spec.InitContainers))
	}
	ctr := pod.Spec.Containers[0]
	if err := checkAnnotations(pod.Annotations); err != nil {
		return Plan{}, err
	}
	name := pod.Annotations[AnnotationName]
	if name == "" {
		name = VMName(pod)
	} else if err := state.CheckName(name); err != nil {
		return Plan{}, refuse("InvalidName", "annotation %s: %v", AnnotationName, err)
	}
	vcpu, mem, err := limits(ctr)
	if err != nil {
		return Plan{}, err
	}
	if err := fits(vcpu, mem, c); err != nil {
		return Plan{}, err
	}
	p := Plan{VM: name, Vcpu: vcpu, Mem: mem}
	if r := pod.Annotations[AnnotationRunner]; r != "" {
		if strings.HasPrefix(r, ".") || !strings.Contains(r, "#") && !filepath.IsAbs(r) && !strings.Contains(r, ":") {
			return Plan{}, refuse("InvalidAnnotation", "annotation %s %q: expected an absolute runner package directory or a flake reference", AnnotationRunner, r)
		}
		p.Runner = r
		return p, nil
	}
	if ctr.Image == "" {
		return Plan{}, refuse("InvalidImage", "container %q has no image", ctr.Name)
	}
	f := specFile{Vcpu: vcpu, Mem: mem, Image: ctr.Image, Kernel: pod.Annotations[AnnotationKernel]}
	if f.Process, err = processOf(ctr); err != nil {
		return Plan{}, err
	}
	if hv := pod.Annotations[AnnotationHypervisor]; hv != "" {
		if !slices.Contains(c.Hypervisors, hv) {
			return Plan{}, refuse("InvalidAnnotation", "annotation %s %q: this node runs %s; expected one of those (node label %sNAME)", AnnotationHypervisor, hv, orNone(c.Hypervisors), LabelHypervisorPrefix)
		}
		f.Hypervisor = hv
	}
	if f.Kernel != "" && !filepath.IsAbs(f.Kernel) {
		return Plan{}, refuse("InvalidAnnotation", "annotation %s %q: expected an absolute path on the host", AnnotationKernel, f.Kernel)
	}
	if kp := pod.Annotations[AnnotationKernelParams]; kp != "" {
		f.KernelParams = strings.Fields(kp)
	}
	b, err := toml.Marshal(f)
	if err != nil {
		return Plan{}, fmt.Errorf("writing the spec of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	// The spec's own validation, so that what create would refuse is
	// refused now, with the Pod's name rather than a file's.
	if _, err := spec.ParseBytes(name, "pod "+pod.Namespace+"/"+pod.Name, b); err != nil {
		return Plan{}, refuse("InvalidSpec", "%v", err)
	}
	p.Spec = b
	return p, nil
}

// specFile is the part of a spec file a Pod sets.
type specFile struct {
	Hypervisor   string   `toml:"hypervisor,omitempty"`
	Vcpu         int      `toml:"vcpu"`
	Mem          int      `toml:"mem"`
	Image        string   `toml:"image"`
	Kernel       string   `toml:"kernel,omitempty"`
	KernelParams []string `toml:"kernelParams,omitempty"`
	Process      *process `toml:"process,omitempty"`
}

// process is the spec's [process] table (spec.Process) a container sets.
type process struct {
	Command    []string `toml:"command,omitempty"`
	Args       []string `toml:"args,omitempty"`
	Env        []string `toml:"env,omitempty"`
	WorkingDir string   `toml:"workingDir,omitempty"`
}

// processOf is what the container changes of its image's process, nil
// for nothing. Its env is what virtual-kubelet resolved before the Pod
// reached the provider (valueFrom, envFrom and the service links, as the
// kubelet does), in a map's order: it is sorted, so that one Pod always
// makes one spec. $(NAME) in command and args is expanded as the kubelet
// does.
func processOf(ctr corev1.Container) (*process, error) {
	if len(ctr.Command) == 0 && len(ctr.Args) == 0 && len(ctr.Env) == 0 && ctr.WorkingDir == "" {
		return nil, nil
	}
	p := &process{WorkingDir: ctr.WorkingDir}
	vars := map[string]string{}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil {
			return nil, refuse("InvalidEnv", "container %q: env %s: valueFrom was not resolved; expected the node's pod controller to resolve it", ctr.Name, e.Name)
		}
		vars[e.Name] = e.Value
		p.Env = append(p.Env, e.Name+"="+e.Value)
	}
	slices.Sort(p.Env)
	for _, a := range ctr.Command {
		p.Command = append(p.Command, expand(a, vars))
	}
	for _, a := range ctr.Args {
		p.Args = append(p.Args, expand(a, vars))
	}
	return p, nil
}

// expand replaces each $(NAME) in s by NAME's value in vars, as the
// kubelet does in a container's command and args: $$ is one $, and a
// reference to a name vars does not hold stays as written.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			ref := s[i : i+3+end]
			if v, ok := vars[ref[2:len(ref)-1]]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(ref)
			}
			i += len(ref) - 1
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func checkAnnotations(a map[string]string) error {
	var unknown []string
	for k := range a {
		if strings.HasPrefix(k, AnnotationPrefix) && !slices.Contains(annotations, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return refuse("InvalidAnnotation", "unknown annotation %s; expected one of %s", strings.Join(unknown, ", "), strings.Join(annotations, ", "))
	}
	return nil
}

// limits are the container's CPU and memory limits (its requests when it
// has no limits) as whole vcpus and MiB, rounded up.
func limits(ctr corev1.Container) (vcpu, mem int, err error) {
	pick := func(n corev1.ResourceName) (resource.Quantity, bool) {
		if q, ok := ctr.Resources.Limits[n]; ok {
			return q, true
		}
		q, ok := ctr.Resources.Requests[n]
		return q, ok
	}
	vcpu, mem = defaultVcpu, defaultMem
	if q, ok := pick(corev1.ResourceCPU); ok {
		vcpu = int((q.MilliValue() + 999) / 1000)
	}
	if q, ok := pick(corev1.ResourceMemory); ok {
		mem = int((q.Value() + 1<<20 - 1) >> 20)
	}
	if vcpu < 1 || mem < 1 {
		return 0, 0, refuse("InvalidResources", "container %q: cpu %d and memory %d MiB; expected at least 1 vcpu and 1 MiB", ctr.Name, vcpu, mem)
	}
	return vcpu, mem, nil
}

// fits refuses a VM larger than the node: the scheduler keeps such Pods
// off it, but a Pod can name its node itself.
func fits(vcpu, mem int, c NodeConfig) error {
	a := c.Allocatable()
	cpu, memory := a[corev1.ResourceCPU], a[corev1.ResourceMemory]
	if int64(vcpu)*1000 > cpu.MilliValue() || int64(mem)<<20 > memory.Value() {
		return refuse("OutOfResources", "the VM needs %d vcpu and %d MiB; this node has %s CPU and %s of memory allocatable", vcpu, mem, cpu.String(), memory.String())
	}
	return nil
}

// VMName is the VM name of a Pod without AnnotationName: its namespace
// and name, shortened to fit, and a hash of both and its UID, so that a
// Pod recreated under the same name is another VM.
func VMName(pod *corev1.Pod) string {
	sum := sha256.Sum256([]byte(pod.Namespace + "/" + pod.Name + "/" + string(pod.UID)))
	suffix := "-" + hex.EncodeToString(sum[:4])
	base := strings.ReplaceAll(pod.Namespace+"-"+pod.Name, ".", "-")
	if max := state.MaxNameLen - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-")
	}
	return base + suffix
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no hypervisor"
	}
	return strings.Join(s, ", ")
}
