#!/bin/sh
# Make this host a node of a cluster (README.md, "Running a fleet on
# Kubernetes"): the daemon runs the VMs, microvm kubelet registers the
# node and turns the Pods scheduled to it into VMs. KUBECONFIG is the
# node's credentials; CA is the CA of the API server's kubelet client
# certificate (kube-apiserver --kubelet-client-certificate), the only
# client the kubelet API (kubectl logs) accepts.
set -eu
microvm daemon &
microvm kubelet --kubeconfig "${KUBECONFIG:?}" --client-ca "${CA:?}" \
	--node-name "$(hostname)" --reserve-cpu 1 --reserve-memory 2Gi --max-pods 50
