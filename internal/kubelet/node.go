package kubelet

import (
	"fmt"
	"runtime"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node labels and the taint. Pods select hosts that run a hypervisor with
// LabelHypervisorPrefix+NAME=true, and KVM with LabelKVM=true.
const (
	LabelHypervisorPrefix = "hypervisor.microvm.dev/"
	LabelKVM              = "microvm.dev/kvm"
	// TaintKey keeps ordinary container Pods off the node: only Pods
	// that tolerate it, and so know they become VMs, land here.
	TaintKey   = "microvm.dev/vm"
	TaintValue = "true"
)

// Taint is the node's taint, microvm.dev/vm=true:NoSchedule.
var Taint = corev1.Taint{Key: TaintKey, Value: TaintValue, Effect: corev1.TaintEffectNoSchedule}

// NodeConfig is what the node says about this host.
type NodeConfig struct {
	Name    string
	Address string // InternalIP: where the API server reaches Port
	Port    int32  // the kubelet API (logs)
	// CPU and Memory are the host's; the Reserve* are kept for the host
	// itself and subtracted from the allocatable amounts.
	CPU, Memory               resource.Quantity
	ReserveCPU, ReserveMemory resource.Quantity
	MaxPods                   int
	// Hypervisors are those this host can run (their binary is found).
	Hypervisors []string
	KVM         bool
	Version     string // of microvm, shown as the kubelet version
}

// Check reports a configuration that cannot describe a node.
func (c NodeConfig) Check() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("node name is empty")
	case c.MaxPods < 1:
		return fmt.Errorf("pod limit %d; expected at least 1", c.MaxPods)
	case c.ReserveCPU.Sign() < 0 || c.ReserveMemory.Sign() < 0:
		return fmt.Errorf("negative reserve (cpu %s, memory %s)", c.ReserveCPU.String(), c.ReserveMemory.String())
	case c.ReserveCPU.Cmp(c.CPU) >= 0:
		return fmt.Errorf("CPU reserve %s leaves nothing of the host's %s", c.ReserveCPU.String(), c.CPU.String())
	case c.ReserveMemory.Cmp(c.Memory) >= 0:
		return fmt.Errorf("memory reserve %s leaves nothing of the host's %s", c.ReserveMemory.String(), c.Memory.String())
	}
	return nil
}

// Allocatable is what Pods may use: the host's CPU and memory minus the
// reserve, and the pod limit.
func (c NodeConfig) Allocatable() corev1.ResourceList {
	cpu, mem := c.CPU.DeepCopy(), c.Memory.DeepCopy()
	cpu.Sub(c.ReserveCPU)
	mem.Sub(c.ReserveMemory)
	return corev1.ResourceList{
		corev1.ResourceCPU:    cpu,
		corev1.ResourceMemory: mem,
		corev1.ResourcePods:   *resource.NewQuantity(int64(c.MaxPods), resource.DecimalSI),
	}
}

// Node is the Node object this host registers: capacity, allocatable,
// labels, the taint, its address and kubelet port. Its Ready condition
// is set by the node controller once the provider runs.
func (c NodeConfig) Node() *corev1.Node {
	labels := map[string]string{
		"type":                   "virtual-kubelet",
		"kubernetes.io/role":     "agent",
		"kubernetes.io/hostname": c.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     runtime.GOARCH,
		LabelKVM:                 fmt.Sprint(c.KVM),
	}
	hv := append([]string(nil), c.Hypervisors...)
	sort.Strings(hv)
	for _, h := range hv {
		labels[LabelHypervisorPrefix+h] = "true"
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    c.CPU.DeepCopy(),
		corev1.ResourceMemory: c.Memory.DeepCopy(),
		corev1.ResourcePods:   *resource.NewQuantity(int64(c.MaxPods), resource.DecimalSI),
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{Taint}},
		Status: corev1.NodeStatus{
			Phase:       corev1.NodePending,
			Capacity:    capacity,
			Allocatable: c.Allocatable(),
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: "linux",
				Architecture:    runtime.GOARCH,
				KubeletVersion:  c.Version,
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: c.Port}},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletStarting"},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated"},
			},
		},
	}
	if c.Address != "" {
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: c.Address},
			{Type: corev1.NodeHostName, Address: c.Name},
		}
	}
	return n
}
