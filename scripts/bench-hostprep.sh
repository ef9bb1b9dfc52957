#!/usr/bin/env bash
# Host preparation of a VM with 4 multi-queue taps and 2 virtiofs shares,
# set up and torn down N times: microvm's (netlink, supervised virtiofsd
# ready when every socket listens) against microvm.nix's way (one `ip`
# process per step, reference §1.4, and virtiofsd daemons started by a
# shell, ready when their sockets exist). Needs root; runs in a network
# namespace of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20}
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
virtiofsd=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
ns=mvbench-$$
dir=$(mktemp -d /tmp/microvm-bench-hostprep.XXXXXX)
ip netns add "$ns"
trap 'ip netns del "$ns"; rm -rf "$dir"' EXIT

go test -c -o "$dir/hostprep.test" ./internal/hostprep
echo "== microvm (Go benchmark, $n iterations)"
ip netns exec "$ns" env MICROVM_BENCH_NETNS=1 "$dir/hostprep.test" -test.run '^$' \
	-test.bench SetupTeardown -test.benchtime "${n}x" | grep Benchmark

cat > "$dir/baseline.sh" <<SH
#!/bin/bash
set -eu
cd "$dir"
mkdir -p src/a src/b
for i in \$(seq $n); do
	for t in 0 1 2 3; do
		[ -e /sys/class/net/bench-tap\$t ] && ip link delete bench-tap\$t
		ip tuntap add name bench-tap\$t mode tap user nobody vnet_hdr multi_queue
		ip link set bench-tap\$t up
	done
	pids=()
	for s in a b; do
		"$virtiofsd" --socket-path=\$s.sock -o source=src/\$s --thread-pool-size=2 -o xattr 2>/dev/null &
		pids+=(\$!)
	done
	until [ -S a.sock ] && [ -S b.sock ]; do sleep 0.01; done
	for t in 0 1 2 3; do ip link delete bench-tap\$t; done
	kill "\${pids[@]}"; wait "\${pids[@]}" 2>/dev/null || true
	rm -f a.sock b.sock a.sock.pid b.sock.pid
done
SH
chmod +x "$dir/baseline.sh"
echo "== microvm.nix's way (shell, $n iterations)"
t=${EPOCHREALTIME/./}
ip netns exec "$ns" "$dir/baseline.sh"
us=$(( ${EPOCHREALTIME/./} - t ))
echo "baseline: $(( us / n )) us/op ($(( us / n / 1000 )) ms/op)"
