package kubelet

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

func TestPlanPod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*corev1.Pod)
		spec   string // the spec file, or
		runner string // the runner source, or
		refuse string // the refusal's reason and a part of its message
	}{
		{name: "defaults", spec: "vcpu = 1\nmem = 512\nimage = 'registry.example/app:1'\n"},
		{name: "limits", edit: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("300M")}
		}, spec: "vcpu = 2\nmem = 287\n"},
		{name: "requests without limits", edit: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}
		}, spec: "mem = 1024\n"},
		{name: "annotations", edit: func(p *corev1.Pod) {
			p.Annotations = map[string]string{AnnotationHypervisor: "cloud-hypervisor", AnnotationKernel: "/boot/vmlinuz", AnnotationKernelParams: "quiet  loglevel=3"}
		}, spec: "hypervisor = 'cloud-hypervisor'\nvcpu = 1\nmem = 512\nimage = 'registry.example/app:1'\nkernel = '/boot/vmlinuz'\nkernelParams = ['quiet', 'loglevel=3']\n"},
		{name: "runner", edit: func(p *corev1.Pod) {
			p.Annotations = map[string]string{AnnotationRunner: "/srv/runners/stub"}
			p.Spec.Containers[0].Command = []string{"ignored"}
		}, runner: "/srv/runners/stub"},
		{name: "flake runner", edit: func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationRunner: "github:me/vms#web"} }, runner: "github:me/vms#web"},
		{name: "relative runner", edit: func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationRunner: "stub"} }, refuse: `InvalidAnnotation: annotation microvm.dev/runner "stub": expected an absolute runner package directory`},
		{name: "unknown hypervisor", edit: func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationHypervisor: "firecracker"} },
			refuse: `InvalidAnnotation: annotation microvm.dev/hypervisor "firecracker": this node runs cloud-hypervisor, qemu`},
		{name: "unknown annotation", edit: func(p *corev1.Pod) { p.Annotations = map[string]string{"microvm.dev/vcpus": "2", "other.io/x": "y"} },
			refuse: "InvalidAnnotation: unknown annotation microvm.dev/vcpus; expected one of"},
		{name: "relative kernel", edit: func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationKernel: "vmlinuz"} }, refuse: `InvalidAnnotation: annotation microvm.dev/kernel "vmlinuz": expected an absolute path`},
		{name: "bad name", edit: func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationName: "a/b"} }, refuse: `InvalidName: annotation microvm.dev/name: invalid VM name "a/b"`},
		{name: "too big", edit: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
		}, refuse: "OutOfResources: the VM needs 4 vcpu and 512 MiB; this node has 3 CPU"},
		{name: "unresolved env", edit: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}
		}, refuse: "InvalidEnv: container \"app\": env NODE: valueFrom was not resolved"},
		{name: "NUL in args", edit: func(p *corev1.Pod) { p.Spec.Containers[0].Args = []string{"a\x00b"} }, refuse: "InvalidSpec: pod default/app:"},
		{name: "two containers", edit: func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) }, refuse: "InvalidPod: the pod has 2 containers"},
		{name: "bad spec", edit: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "not a reference" }, refuse: "InvalidSpec: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("app")
			if tc.edit != nil {
				tc.edit(pod)
			}
			p, err := PlanPod(pod, testNode())
			if tc.refuse != "" {
				var r *Refusal
				if !errors.As(err, &r) {
					t.Fatalf("PlanPod: %v, %+v; want refusal %q", err, p, tc.refuse)
				}
				if got := r.Reason + ": " + r.Message; !strings.Contains(got, tc.refuse) {
					t.Fatalf("refusal %q; want it to contain %q", got, tc.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.VM != VMName(pod) {
				t.Errorf("VM %q; want %q", p.VM, VMName(pod))
			}
			if p.Runner != tc.runner {
				t.Errorf("runner %q; want %q", p.Runner, tc.runner)
			}
			if tc.runner == "" && !strings.Contains(string(p.Spec), tc.spec) {
				t.Errorf("spec:\n%s\nwant it to contain:\n%s", p.Spec, tc.spec)
			}
		})
	}
}

func TestVMName(t *testing.T) {
	a := testPod("web-7d9f8-abcde")
	if got := VMName(a); !strings.HasPrefix(got, "default-web-7d9f8-abcde-") || len(got) != len("default-web-7d9f8-abcde-")+8 {
		t.Errorf("VMName %q", got)
	}
	b := a.DeepCopy()
	b.UID = "other"
	if VMName(a) == VMName(b) {
		t.Errorf("pods of one name and two UIDs share VM %q", VMName(a))
	}
	long := testPod(strings.Repeat("very.long.", 25) + "x")
	long.Namespace = strings.Repeat("n", 63)
	if got := VMName(long); state.CheckName(got) != nil || len(got) > state.MaxNameLen {
		t.Errorf("VMName of a long pod name %q: %v", got, state.CheckName(got))
	}
}

// TestPlanPodProcess: a container's command, args, env and workingDir
// become the spec's [process], which the spec parser reads back as set.
func TestPlanPodProcess(t *testing.T) {
	pod := testPod("app")
	ctr := &pod.Spec.Containers[0]
	ctr.Command = []string{"/bin/sh", "-c"}
	ctr.Args = []string{`echo "$(GREETING) from $(pwd)" $$(GREETING) 'quote' "and\nnewline"`}
	ctr.Env = []corev1.EnvVar{{Name: "GREETING", Value: "hello"}, {Name: "A", Value: "x=y"}, {Name: "EMPTY"}}
	ctr.WorkingDir = "/srv"
	p, err := PlanPod(pod, testNode())
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytes(p.VM, "plan", p.Spec)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Spec)
	}
	want := &spec.Process{
		Command:    []string{"/bin/sh", "-c"},
		Args:       []string{`echo "hello from $(pwd)" $(GREETING) 'quote' "and\nnewline"`},
		Env:        []string{"A=x=y", "EMPTY=", "GREETING=hello"},
		WorkingDir: "/srv",
	}
	if diff := cmp.Diff(want, s.Process); diff != "" {
		t.Errorf("process (-want +got):\n%s\nspec:\n%s", diff, p.Spec)
	}
	// A container that changes nothing leaves the image's process alone.
	p, err = PlanPod(testPod("plain"), testNode())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(p.Spec), "process") {
		t.Errorf("spec of a plain container:\n%s", p.Spec)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two words", "EMPTY": ""}
	for in, want := range map[string]string{
		"$(A)":           "1",
		"x$(A)y$(B)z":    "x1ytwo wordsz",
		"$(EMPTY)|":      "|",
		"$(UNSET)":       "$(UNSET)",
		"$$(A)":          "$(A)",
		"$$":             "$",
		"$A ${A} $":      "$A ${A} $",
		"$(A":            "$(A",
		"$()":            "$()",
		"cost: 5$ $(A)":  "cost: 5$ 1",
		"$(pwd) $(A)":    "$(pwd) 1",
		"nested $($(A))": "nested $($(A))",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q; want %q", in, got, want)
		}
	}
}
