#!/usr/bin/env bash
# Disk space of 10 VMs sharing one base image through qcow2 overlays (what
# base = "…" makes at first start) against 10 full copies: raw copies
# (what convert = true makes, for hypervisors without backing files) and
# copies of the qcow2 file itself. Allocated blocks (du), so sparse files
# count what they hold.
#
#   scripts/overlay-space.sh [BASE] [GROWN]
#
# BASE defaults to the Debian tier's cached image; GROWN is an overlay after
# a guest's first boot (e.g. the Debian tier's root.qcow2), whose size
# stands in for each VM's overlay when given.
set -euo pipefail
base=${1:-$(ls -t /var/cache/microvm-test/debian-*.qcow2 2>/dev/null | head -n 1)}
grown=${2:-}
[ -n "$base" ] && [ -f "$base" ] || { echo "usage: $0 BASE [GROWN] (no cached Debian image: run make test-debian)" >&2; exit 2; }
base=$(realpath "$base")
fmt=$(qemu-img info --output=json "$base" | sed -n 's/.*"format": "\([a-z0-9]*\)".*/\1/p' | head -n 1)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
kib() { du -k -c "$@" | tail -n 1 | cut -f 1; }
for i in $(seq 10); do
	qemu-img create -q -f qcow2 -F "$fmt" -b "$base" "$dir/overlay-$i.qcow2"
done
qemu-img convert -f "$fmt" -O raw "$base" "$dir/raw-1.img"
cp --sparse=always "$base" "$dir/copy-1.qcow2"
base_k=$(kib "$base")
over_k=$(kib "$dir"/overlay-*.qcow2)
raw_k=$(kib "$dir/raw-1.img")
copy_k=$(kib "$dir/copy-1.qcow2")
mib() { echo "$(( ($1 + 1023) / 1024 )) MiB"; }
echo "base: $base ($fmt, $(mib "$base_k"))"
echo "10 fresh overlays + base:  $(mib $((base_k + over_k))) (overlays $(mib "$over_k") together)"
if [ -n "$grown" ]; then
	grown_k=$(kib "$grown")
	echo "10 overlays after a first boot ($(mib "$grown_k") each, from $grown) + base: $(mib $((base_k + 10 * grown_k)))"
fi
echo "10 raw copies (convert = true): $(mib $((10 * raw_k)))"
echo "10 copies of the qcow2 base:    $(mib $((10 * copy_k)))"
