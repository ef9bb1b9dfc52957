// Package kubelet makes this host a Kubernetes node: a virtual-kubelet
// provider whose Pods are microVMs run by the host's own supervisor.
//
// A Pod that tolerates the node's taint (Taint) and lands on the node
// becomes one VM: its first container's image is the guest (the
// OCI-image path), its limits the VM's vcpu and mem, and annotations
// under microvm.dev/ override spec options (Annotation*). The package
// computes (Node, PlanPod, PodStatus) and drives a Host, the narrow
// interface to the state directory and the daemon that the CLI
// implements; it never prints and never runs processes itself.
//
// The provider creates VMs owned by state.OwnerKubelet and keeps one
// record per Pod (Records) in the state directory's KubeletDir, written
// before the VM is created: a restarted provider re-adopts every VM it
// has a record for and never creates one twice, and removes owned VMs
// without a record or whose Pod is gone. VMs of any other owner, or made
// by hand, are never touched.
package kubelet
