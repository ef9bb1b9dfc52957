// Package kubetest is the cluster tier: the Kubernetes provider
// (microvm kubelet) against a real control plane, etcd, kube-apiserver,
// kube-scheduler and kube-controller-manager, built from Go modules by
// scripts/build-kube.sh and cached per machine.
//
// The network: the control plane runs in a "control" network namespace
// on a bridge, 10.244.0.1/24; each of the three hosts, a microvm daemon
// and its provider with their own state and runtime directories, runs
// in a network namespace of its own, whose eth0 (10.244.0.1N) is a veth
// on that bridge. So the hosts reach the API server and the API server
// reaches each host's kubelet API (kubectl logs) by address, as in a
// real cluster, and killing a host's namespace's processes is losing
// the host. Nothing listens in the machine's own namespace; the test
// reaches the API server (and serves its image registry) from sockets
// made in the control namespace. The daemons' unix sockets are files,
// reached from anywhere.
//
// The tier skips, saying why, when not root or when the control plane
// cannot be built (no module proxy on a fresh machine).
package kubetest
