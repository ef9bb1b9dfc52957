#!/usr/bin/env bash
# An OCI image VM against the busybox demo guest, under qemu through
# generated runners (microvm run), RUNS times each, as root (flattening
# keeps the image's owners):
#   - the first start's host work: flattening a MIB MiB image (busybox and
#     MIB MiB of random files) and building the initramfs; then the same
#     when cached;
#   - boot to process: microvm run until the image's process prints its
#     first line, against the demo's boot to "microvm-guest: ready";
#   - process exit to the hypervisor's exit (the VM powers off by itself).
# KVM as probed (--kvm auto), or KVM=off|on to force.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
mib=${MIB:-100}
[ "$(id -u)" -eq 0 ] || { echo "run as root: flattening an image keeps its owners" >&2; exit 1; }
work=$(mktemp -d /tmp/microvm-bench-image.XXXXXX)
export MICROVM_STATE_DIR=$work/state MICROVM_INIT=$work/microvm-init MICROVM_HOST_CONFIG=$work/host.toml
trap 'rm -rf "$work"' EXIT
printf 'user = "root"\ngroup = "root"\n' > "$work/host.toml"
go build -o "$work/microvm" ./cmd/microvm
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$MICROVM_INIT" ./cmd/microvm-init
go run ./internal/oci/ocitest/ociimage -mib "$mib" "$work/app.tar" sh -c 'echo process started'
m=$work/microvm

now() { echo "${EPOCHREALTIME/./}"; }
ms() { echo $(( ($(now) - $1) / 1000 )); }
"$m" guest initramfs -o "$work/initrd.img" >/dev/null
kernel=$(ls -v /boot/vmlinuz-* | tail -n 1)
printf 'mem = 256\nkernel = "%s"\ninitrd = "initrd.img"\n' "$kernel" > "$work/demo.toml"
printf 'mem = 256\nimage = "docker-archive:app.tar"\n' > "$work/app.toml"
"$m" create demo --kvm "${KVM:-auto}" -f "$work/demo.toml" >/dev/null
"$m" create app --kvm "${KVM:-auto}" -f "$work/app.toml" >/dev/null
grep -o 'accel=[a-z:]*' "$MICROVM_STATE_DIR/app/current/bin/microvm-run"

t=$(now)
"$m" host image-up app
echo "first start, image $(stat -c %s "$work/app.tar") bytes: flattened and initramfs built in $(ms "$t") ms"
"$m" host image-down app
t=$(now)
"$m" host image-up app
echo "cached: $(ms "$t") ms"
"$m" host image-down app
echo "root disk $(du -k "$MICROVM_STATE_DIR"/.images/*.ext4 | cut -f1) KiB used, initramfs $(stat -c %s "$MICROVM_STATE_DIR"/.images/initrd-*.img) bytes"

# wait_line LOG PID PATTERN: wait until LOG has PATTERN.
wait_line() {
	until grep -q "$3" "$1"; do
		kill -0 "$2" 2>/dev/null || { cat "$1"; exit 1; }
		sleep 0.01
	done
}
demo=() app=() exits=()
for i in $(seq "$runs"); do
	log=$work/demo$i.log
	t=$(now)
	"$m" run demo >"$log" 2>&1 &
	pid=$!
	wait_line "$log" "$pid" "microvm-guest: ready"
	demo+=("$(ms "$t")")
	(cd "$MICROVM_STATE_DIR/demo" && ./booted/bin/microvm-shutdown)
	wait "$pid"

	log=$work/app$i.log
	t=$(now)
	"$m" run app >"$log" 2>&1 &
	pid=$!
	wait_line "$log" "$pid" "^process started"
	app+=("$(ms "$t")")
	t=$(now)
	wait "$pid"
	exits+=("$(ms "$t")")
	grep -q "microvm-init: exit status 0" "$log"
	echo "run $i: demo ready after ${demo[-1]} ms; image process started after ${app[-1]} ms, VM gone ${exits[-1]} ms after"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median over $runs runs: demo boot to ready $(median "${demo[@]}") ms; image boot to process $(median "${app[@]}") ms; process exit to VM exit $(median "${exits[@]}") ms"
