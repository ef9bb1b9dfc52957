#!/usr/bin/env bash
# Boot-to-ready and graceful-shutdown times of the demo guest under qemu,
# through a generated runner (microvm run + bin/microvm-shutdown), RUNS
# times; prints each run and the medians. KVM as probed (--kvm auto), or
# KVM=off|on to force.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
work=$(mktemp -d /tmp/microvm-bench-boot.XXXXXX)
export MICROVM_STATE_DIR=$work/state
trap 'rm -rf "$work"' EXIT
go build -o "$work/microvm" ./cmd/microvm
m=$work/microvm

now() { echo "${EPOCHREALTIME/./}"; }
"$m" guest initramfs -o "$work/initrd.img" >/dev/null
echo "initramfs: $(stat -c %s "$work/initrd.img") bytes (gzip)"
cat > "$work/bench.toml" <<TOML
mem = 256
kernel = "$(ls -v /boot/vmlinuz-* | tail -n 1)"
initrd = "initrd.img"
TOML
"$m" create bench --kvm "${KVM:-auto}" -f "$work/bench.toml" >/dev/null
grep -o 'accel=[a-z:]*' "$MICROVM_STATE_DIR/bench/current/bin/microvm-run"

boots=() stops=()
for i in $(seq "$runs"); do
	log=$work/console$i.log
	t=$(now)
	"$m" run bench >"$log" 2>&1 &
	pid=$!
	until grep -q "microvm-guest: ready" "$log"; do
		kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
		sleep 0.02
	done
	boot=$(( ($(now) - t) / 1000 ))
	t=$(now)
	(cd "$MICROVM_STATE_DIR/bench" && ./booted/bin/microvm-shutdown)
	wait "$pid"
	stop=$(( ($(now) - t) / 1000 ))
	grep -q "microvm-guest: powering off" "$log"
	echo "run $i: ready after ${boot} ms, shut down (qemu exited by itself) after ${stop} ms"
	boots+=("$boot") stops+=("$stop")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median: ready $(median "${boots[@]}") ms, shutdown $(median "${stops[@]}") ms over $runs runs"
