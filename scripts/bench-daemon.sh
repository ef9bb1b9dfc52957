#!/usr/bin/env bash
# The daemon with N stub VMs (a shell loop standing in for a hypervisor):
# time to start them all and to stop them all, the daemon's RSS, the
# monitors' total RSS, `status --json` latency, and the daemon's CPU while
# they idle for IDLE seconds (it must not poll busily).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-200}
idle=${IDLE:-10}
work=$(mktemp -d /tmp/microvm-bench-daemon.XXXXXX)
export MICROVM_STATE_DIR=$work/state MICROVM_RUNTIME_DIR=$work/run MICROVM_HOST_CONFIG=$work/host.toml
dpid=
cleanup() { [ -n "$dpid" ] && kill -INT "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/microvm" ./cmd/microvm
m=$work/microvm
printf 'user = "%s"\ngroup = "%s"\n' "$(id -un)" "$(id -gn)" > "$work/host.toml"
. scripts/stub-vms.sh
stub_vms
start_daemon
ms() { echo $(( (${EPOCHREALTIME/./} - $1) / 1000 )); }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

t=${EPOCHREALTIME/./}
names=(); for i in $(seq "$n"); do names+=("vm$i"); done
printf '%s\n' "${names[@]}" | xargs -P 8 -n 25 "$m" start >/dev/null
echo "start $n VMs: $(ms "$t") ms"
echo "daemon RSS after start: $(rss "$dpid") KiB"
mon=0; for f in "$work"/run/*.monitor; do p=$(sed 's/.*"pid":\([0-9]*\).*/\1/' "$f"); mon=$(( mon + $(rss "$p") )); done
echo "monitors' RSS, all $n: $mon KiB"

for i in 1 2 3; do t=${EPOCHREALTIME/./}; "$m" status --json >/dev/null; echo "status --json ($n VMs): $(ms "$t") ms"; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(ticks "$dpid"); sleep "$idle"; c1=$(ticks "$dpid")
echo "daemon CPU while $n VMs idle ${idle}s: $(( (c1 - c0) * 10 )) ms"

t=${EPOCHREALTIME/./}
printf '%s\n' "${names[@]}" | xargs -P 8 -n 25 "$m" stop >/dev/null
echo "stop $n VMs: $(ms "$t") ms"
echo "daemon RSS after stop: $(rss "$dpid") KiB"
