#!/usr/bin/env bash
# The daemon's metrics with N stub VMs (a shell loop standing in for a
# hypervisor, under a monitor each, as the daemon runs every VM): the
# time of one scrape, over TCP on metricsListen as Prometheus scrapes and
# through `microvm metrics` on the API socket; then the daemon's CPU over
# IDLE seconds with nothing asking, and over IDLE seconds scraped every
# EVERY seconds, with the monitors' CPU meanwhile (they must not poll).
# PORT is the loopback port for metricsListen.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-200}
idle=${IDLE:-60}
every=${EVERY:-5}
port=${PORT:-19848}
work=$(mktemp -d /tmp/microvm-bench-metrics.XXXXXX)
export MICROVM_STATE_DIR=$work/state MICROVM_RUNTIME_DIR=$work/run MICROVM_HOST_CONFIG=$work/host.toml
dpid=
cleanup() { [ -n "$dpid" ] && kill -INT "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/microvm" ./cmd/microvm
m=$work/microvm
printf 'user = "%s"\ngroup = "%s"\nmetricsListen = "127.0.0.1:%s"\n' "$(id -un)" "$(id -gn)" "$port" > "$work/host.toml"
. scripts/stub-vms.sh
stub_vms
start_daemon
names=(); for i in $(seq "$n"); do names+=("vm$i"); done
printf '%s\n' "${names[@]}" | xargs -P 8 -n 25 "$m" start >/dev/null
ms() { echo $(( (${EPOCHREALTIME/./} - $1) / 1000 )); }
url=http://127.0.0.1:$port/metrics

curl -sf -o "$work/metrics.txt" "$url"
echo "$n running VMs: $(grep -c '^microvm_vm_up.* 1$' "$work/metrics.txt") up, $(grep -vc '^#' "$work/metrics.txt") series, $(( $(wc -c < "$work/metrics.txt") / 1024 )) KiB"
for i in 1 2 3 4 5; do
	t=${EPOCHREALTIME/./}; curl -sf -o /dev/null "$url"; echo "scrape over TCP ($n VMs): $(ms "$t") ms"
done
for i in 1 2 3; do
	t=${EPOCHREALTIME/./}; "$m" metrics >/dev/null; echo "microvm metrics ($n VMs): $(ms "$t") ms"
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
monitors() {
	local sum=0 p
	for f in "$work"/run/*.monitor; do
		p=$(sed 's/.*"pid":\([0-9]*\).*/\1/' "$f")
		sum=$(( sum + $(ticks "$p") ))
	done
	echo "$sum"
}
c0=$(ticks "$dpid"); sleep "$idle"; c1=$(ticks "$dpid")
echo "daemon CPU, $n VMs idle ${idle} s, no scrapes: $(( (c1 - c0) * 10 )) ms"
c0=$(ticks "$dpid"); m0=$(monitors)
end=$(( SECONDS + idle ))
while [ "$SECONDS" -lt "$end" ]; do curl -sf -o /dev/null "$url"; sleep "$every"; done
c1=$(ticks "$dpid"); m1=$(monitors)
echo "daemon CPU, $n VMs idle ${idle} s, scraped every ${every} s: $(( (c1 - c0) * 10 )) ms ($(( (c1 - c0) * 10 * 100 / (idle * 1000) )).$(( (c1 - c0) * 10 * 1000 / (idle * 1000) % 10 ))% of a core)"
echo "monitors' CPU meanwhile, all $n: $(( (m1 - m0) * 10 )) ms"
