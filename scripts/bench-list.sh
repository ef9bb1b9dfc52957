#!/usr/bin/env bash
# Times `microvm list` over 1000 VMs against the baseline a shell user has:
# a loop calling readlink per VM for the same links (current's system,
# booted's system, the source's system). Both read the same state dir.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
dir=$(mktemp -d /tmp/microvm-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

go build -o "$dir/microvm" ./cmd/microvm
MICROVM_BENCH_DIR=$dir MICROVM_BENCH_VMS=1000 go test -count=1 -run '^TestMakeBenchState$' ./internal/cli/ >/dev/null
export MICROVM_STATE_DIR=$dir/state
echo "VMs: $(ls "$MICROVM_STATE_DIR" | wc -l)"

cat > "$dir/baseline.sh" <<'SH'
#!/bin/sh
# One readlink process per link, as `ls -l .../system` or a loop would.
for d in "$MICROVM_STATE_DIR"/*/; do
	readlink "$d/current/share/microvm/system"
	[ -L "$d/booted" ] && readlink "$d/booted/share/microvm/system"
	src=$(sed -n 's/.*"ref": "\(.*\)".*/\1/p' "$d/source.json")
	readlink "$src/share/microvm/system"
done
SH
chmod +x "$dir/baseline.sh"

ms() { echo $(( (${EPOCHREALTIME/./} - $1) / 1000 )); }
for i in $(seq "$runs"); do
	t=${EPOCHREALTIME/./}; "$dir/microvm" list >/dev/null; a=$(ms "$t")
	t=${EPOCHREALTIME/./}; "$dir/baseline.sh" >/dev/null; b=$(ms "$t")
	echo "run $i: microvm list ${a} ms, shell readlink loop ${b} ms"
done
go test -run '^$' -bench List1000 -benchmem ./internal/cli/ | grep Benchmark
