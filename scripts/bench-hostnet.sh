#!/usr/bin/env bash
# Times 4-tap setup+teardown the microvm.nix way (tap-up/tap-down: one `ip`
# process per step, reference §1.4) against internal/hostnet's netlink calls
# (BenchmarkSetupTeardown4Taps). Both run in throwaway network namespaces;
# nothing outside them is touched. Needs root. N iterations (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-hostnet.sh: needs root (netns, taps)" >&2; exit 1; }
n=${N:-50}
ns=microvm-bench-$$
ip netns add "$ns"
trap 'ip netns delete "$ns"' EXIT

# The body of tap-up and tap-down for 4 multi_queue taps (qemu, vcpu > 1),
# run inside the netns so that /sys/class/net and /dev/net/tun are its own.
cat > "/tmp/$ns.sh" <<'SH'
set -eu
taps="vm-bench-0 vm-bench-1 vm-bench-2 vm-bench-3"
for i in $(seq "$1"); do
	for id in $taps; do
		if [ -e "/sys/class/net/$id" ]; then ip link delete "$id"; fi
		ip tuntap add name "$id" mode tap user nobody vnet_hdr multi_queue
		ip link set "$id" up
	done
	for id in $taps; do ip link delete "$id"; done
done
SH
trap 'ip netns delete "$ns"; rm -f "/tmp/$ns.sh"' EXIT

t=${EPOCHREALTIME/./}
ip netns exec "$ns" bash "/tmp/$ns.sh" "$n"
ip_ns=$(( (${EPOCHREALTIME/./} - t) * 1000 / n ))

go_ns=$(go test -count=1 -run '^$' -bench SetupTeardown4Taps -benchtime "${n}x" ./internal/hostnet/ |
	awk '/^BenchmarkSetupTeardown4Taps/ {print $3}')
[ -n "$go_ns" ] || { echo "benchmark did not run (root needed)" >&2; exit 1; }

awk -v ip="$ip_ns" -v go="$go_ns" -v n="$n" 'BEGIN {
	printf "4 taps setup+teardown, %d iterations\n", n
	printf "  microvm.nix (ip per step): %8.2f ms/op\n", ip / 1e6
	printf "  hostnet (netlink):         %8.2f ms/op\n", go / 1e6
	printf "  ratio ip/hostnet:          %8.2fx\n", ip / go
}'
