package kubelet

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestNode(t *testing.T) {
	c := testNode()
	c.KVM = true
	n := c.Node()
	for k, v := range map[string]string{
		"hypervisor.microvm.dev/qemu":             "true",
		"hypervisor.microvm.dev/cloud-hypervisor": "true",
		"microvm.dev/kvm":                         "true",
		"kubernetes.io/hostname":                  "host1",
		"type":                                    "virtual-kubelet",
	} {
		if n.Labels[k] != v {
			t.Errorf("label %s=%q; want %q", k, n.Labels[k], v)
		}
	}
	if _, ok := n.Labels["hypervisor.microvm.dev/firecracker"]; ok {
		t.Error("labelled with a hypervisor the host does not have")
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0] != Taint || Taint.Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("taints %+v; want %+v", n.Spec.Taints, Taint)
	}
	alloc := n.Status.Allocatable
	if cpu := alloc[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("3")) != 0 {
		t.Errorf("allocatable CPU %s; want 4 - 1", cpu.String())
	}
	if mem := alloc[corev1.ResourceMemory]; mem.Cmp(resource.MustParse("7Gi")) != 0 {
		t.Errorf("allocatable memory %s; want 8Gi - 1Gi", mem.String())
	}
	if pods := alloc[corev1.ResourcePods]; pods.Value() != 10 {
		t.Errorf("pod limit %d; want 10", pods.Value())
	}
	if cpu := n.Status.Capacity[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("4")) != 0 {
		t.Errorf("capacity CPU %s; want the host's 4", cpu.String())
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 || n.Status.Addresses[0].Address != "10.0.0.1" {
		t.Errorf("endpoint %+v, addresses %+v", n.Status.DaemonEndpoints, n.Status.Addresses)
	}
}

func TestNodeCheck(t *testing.T) {
	for want, edit := range map[string]func(*NodeConfig){
		"node name is empty":         func(c *NodeConfig) { c.Name = "" },
		"pod limit 0":                func(c *NodeConfig) { c.MaxPods = 0 },
		"CPU reserve 4 leaves":       func(c *NodeConfig) { c.ReserveCPU = resource.MustParse("4") },
		"memory reserve 9Gi leaves":  func(c *NodeConfig) { c.ReserveMemory = resource.MustParse("9Gi") },
		"negative reserve (cpu -1, ": func(c *NodeConfig) { c.ReserveCPU = resource.MustParse("-1") },
	} {
		c := testNode()
		edit(&c)
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check: %v; want %q", err, want)
		}
	}
	if err := testNode().Check(); err != nil {
		t.Error(err)
	}
}
