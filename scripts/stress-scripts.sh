#!/usr/bin/env bash
# Runs the CLI testscript suite N times in a row (default 20) while CPU
# hogs keep every core busy, and says which runs and scripts failed. A
# robustness check, not part of CI: races that only show on a loaded
# machine (a record written a moment too late, a wait that assumed a
# fast boot) show up here.
#   N=20 RACE=1 scripts/stress-scripts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
out=$(mktemp -d)
race=()
[ "${RACE:-1}" = 1 ] && race=(-race)
go test "${race[@]}" -c -o "$out/cli.test" ./internal/cli/

hogs=()
for _ in $(seq "$(nproc)"); do
	sh -c 'while :; do :; done' &
	hogs+=($!)
done
trap 'kill "${hogs[@]}" 2>/dev/null' EXIT

fails=0
total_start=$(date +%s)
for i in $(seq "$N"); do
	start=$(date +%s)
	if (cd internal/cli && "$out/cli.test" -test.run '^TestScripts$' -test.count=1) > "$out/run-$i.log" 2>&1; then
		echo "run $i: ok in $(($(date +%s) - start)) s"
	else
		fails=$((fails + 1))
		echo "run $i: FAILED in $(($(date +%s) - start)) s; failing scripts:"
		grep -E -- '^ +--- FAIL: TestScripts/' "$out/run-$i.log" | sed 's/^ */  /' || true
		echo "  log: $out/run-$i.log"
	fi
done
echo "$N runs with $(nproc) CPU hogs in $(($(date +%s) - total_start)) s: $((N - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
