#!/usr/bin/env bash
# Builds the Kubernetes control plane the kube test tier (internal/kubetest)
# runs against: kube-apiserver, kube-scheduler, kube-controller-manager and
# etcd, from the tools module tools/kube (kept out of the product's go.mod).
# The binaries are cached per machine under a directory keyed by the
# versions tools/kube/go.mod pins, and built in one `go build` so that the
# dependencies they share compile once: about 15 minutes cold on 2 cores,
# seconds once cached. Prints the directory holding the binaries.
#
#   MICROVM_KUBE_CACHE  the cache (default /var/cache/microvm-test/kube)
#   GO                  the go command (default go)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mod=$root/tools/kube
go=${GO:-go}
version() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$mod/go.mod"; }
k8s=$(version k8s.io/kubernetes)
etcd=$(version go.etcd.io/etcd/server/v3)
if [ -z "$k8s" ] || [ -z "$etcd" ]; then
	echo "build-kube.sh: $mod/go.mod: expected requirements of k8s.io/kubernetes and go.etcd.io/etcd/server/v3" >&2
	exit 2
fi
cache=${MICROVM_KUBE_CACHE:-/var/cache/microvm-test/kube}
dir=$cache/$k8s-etcd${etcd#v}
bins=(kube-apiserver kube-scheduler kube-controller-manager etcd)
complete() { for b in "${bins[@]}"; do [ -x "$dir/$b" ] || return 1; done; }
if complete; then
	echo "$dir"
	exit 0
fi
mkdir -p "$cache"
# One build at a time per machine (make test and make test-kube, two
# worktrees): the second waits and then finds the cache filled.
exec 9>"$cache/.lock"
flock 9
if complete; then
	echo "$dir"
	exit 0
fi
stage=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$stage"' EXIT
minor=${k8s#v1.}
minor=${minor%%.*}
# The binaries say which release they are (otherwise v0.0.0-master).
ldflags="-X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
echo "build-kube.sh: building kubernetes $k8s and etcd $etcd into $dir (about 15 minutes cold)" >&2
start=$(date +%s)
(cd "$mod" && "$go" build -trimpath -ldflags "$ldflags" -o "$stage/" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kube-controller-manager ./etcd)
echo "build-kube.sh: built in $(( $(date +%s) - start )) s" >&2
rm -rf "$dir"
mv "$stage" "$dir"
trap - EXIT
chmod 755 "$dir"
echo "$dir"
